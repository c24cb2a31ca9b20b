//! The request/response frame every route shares: request id, tenant
//! authentication, problem+json for errors, one log line per request.

use std::future::Future;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::app::App;
use crate::error::ApiError;
use crate::limits::Quota;
use crate::tenant::TenantId;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Authenticates the request, runs `route` for its tenant and turns the
/// outcome into a response. Expected failures become problem responses,
/// never an `Err` (which the runtime would report as a 500).
pub async fn serve<'a, F, Fut>(app: &'a App, req: &'a Request, route: F) -> Response<Body>
where
    F: FnOnce(&'a App, TenantId, &'a Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send + 'a,
{
    let started = Instant::now();
    let caller = match app.auth.caller(&app.store, req).await {
        Ok(caller) => caller,
        Err(e) => return finish(req, started, None, None, Err(e)),
    };
    let (outcome, quota) = match app.limits.admit(&caller, req).await {
        Ok(quota) => {
            let outcome = route(app, caller.tenant.clone(), req).await;
            if matches!(outcome, Err(ApiError::NotFound(_))) {
                app.limits.record_miss(&caller, req).await;
            }
            (outcome, quota)
        }
        Err((e, quota)) => (Err(e), quota),
    };
    finish(req, started, Some(&caller.tenant), quota, outcome)
}

/// The same frame for routes that need no token (`/ping`).
pub fn serve_public(req: &Request, outcome: Result<Response<Body>, ApiError>) -> Response<Body> {
    finish(req, Instant::now(), None, None, outcome)
}

fn finish(
    req: &Request,
    started: Instant,
    tenant: Option<&TenantId>,
    quota: Option<Quota>,
    outcome: Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let request_id = request_id(req);
    let (mut response, code) = match outcome {
        Ok(response) => (response, None),
        Err(e) => (e.to_response(), Some(e.code())),
    };
    if let Some(quota) = quota {
        quota.apply(&mut response);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::info!(
        request_id = %request_id,
        tenant = tenant.map(TenantId::as_str),
        method = %req.method(),
        path = path(req),
        status = response.status().as_u16(),
        code,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// API Gateway's request id where there is one (it is what its access logs
/// show), else the Lambda invocation's, else a fresh one.
fn request_id(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = ctx.request_id.as_deref().filter(|id| !id.is_empty())
    {
        return id.to_owned();
    }
    req.lambda_context_ref()
        .map(|ctx| ctx.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// A JSON response.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    json_text(status, serde_json::to_string(body).unwrap_or_default())
}

/// A JSON response from text already rendered (a replayed response).
pub fn json_text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Binary(body.into_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The path's segments without empty ones, so `/coupon/` and `/coupon` match
/// alike. The raw path never carries an API Gateway stage prefix.
pub fn path_segments(req: &Request) -> Vec<&str> {
    path(req).split('/').filter(|s| !s.is_empty()).collect()
}

fn path(req: &Request) -> &str {
    match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    }
}
