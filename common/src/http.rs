//! The request/response frame every route shares: request id, tenant
//! authentication, problem+json for errors, one log line per request.

use std::borrow::Cow;
use std::future::Future;
use std::time::Instant;

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::app::App;
use crate::error::ApiError;
use crate::job::Job;
use crate::limits::{self, Quota};
use crate::request::raw_path;
use crate::routes::{self, Function, Matched};
use crate::tenant::TenantId;
use crate::views::JobView;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Authenticates the request, runs `route` for its tenant and the route
/// its path matched, and turns the outcome into a response. A path no
/// route matches is a 404, a method its route does not answer a 405 (after
/// authentication, like any other answer). Expected failures become
/// problem responses, never an `Err` (which the runtime would report as a
/// 500).
pub async fn serve<'a, F, Fut>(app: &'a App, req: &'a Request, route: F) -> Response<Body>
where
    F: FnOnce(&'a App, TenantId, &'a Request, Matched<'a>) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>> + Send + 'a,
{
    let started = Instant::now();
    let matched = routes::recognise(req);
    let caller = match app.auth.caller(&app.store, req).await {
        Ok(caller) => caller,
        Err(e) => return finish(req, started, matched, Served::default(), Err(e)),
    };
    let kind = limits::kind(req, matched.as_ref()).await;
    let mut pressure = false;
    let (outcome, quota) = match app.limits.admit(&caller, &kind).await {
        Ok(quota) => {
            let outcome = match matched {
                None => Err(ApiError::NotFound("no such route".into())),
                Some(m) if !m.spec.allows(req.method()) => Err(ApiError::MethodNotAllowed {
                    allow: m.spec.methods,
                }),
                Some(m) => route(app, caller.tenant.clone(), req, m).await,
            };
            if matches!(outcome, Err(ApiError::NotFound(_))) {
                pressure = app.limits.record_miss(&caller, &kind).await;
            }
            (outcome, quota)
        }
        Err((e, quota)) => (Err(e), quota),
    };
    let served = Served {
        tenant: Some(&caller.tenant),
        quota,
        guessing_pressure: pressure,
    };
    finish(req, started, matched, served, outcome)
}

/// What the frame knows of a request beside its outcome.
#[derive(Default)]
struct Served<'a> {
    /// The token's tenant, once authenticated.
    tenant: Option<&'a TenantId>,
    quota: Option<Quota>,
    /// The request's miss found its tenant under guessing pressure.
    guessing_pressure: bool,
}

/// The same frame for a function that needs no token: `answer` serves the
/// routes of `function`; any other request (API Gateway's `$default` route
/// sends the ping function what no other route takes) gets the route
/// table's 404 or 405.
pub fn serve_public(
    req: &Request,
    function: Function,
    answer: impl FnOnce() -> Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let matched = routes::recognise(req);
    let outcome = match matched {
        Some(m) if !m.spec.allows(req.method()) => Err(ApiError::MethodNotAllowed {
            allow: m.spec.methods,
        }),
        Some(m) if m.spec.function == function => answer(),
        _ => Err(ApiError::NotFound("no such route".into())),
    };
    finish(req, Instant::now(), matched, Served::default(), outcome)
}

fn finish(
    req: &Request,
    started: Instant,
    matched: Option<Matched<'_>>,
    served: Served<'_>,
    outcome: Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let Served {
        tenant,
        quota,
        guessing_pressure,
    } = served;
    let request_id = request_id(req);
    let (mut response, code, counted) = match outcome {
        Ok(response) => (response, None, None),
        Err(e) => {
            let counted = match &e {
                ApiError::Refused(refusal) => Some(Counted::Refused(refusal.code())),
                ApiError::RateLimited { .. } => Some(Counted::RateLimited(e.code())),
                _ => None,
            };
            (e.to_response(), Some(e.code()), counted)
        }
    };
    if let Some(quota) = quota {
        quota.apply(&mut response);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let outcome = match (status, code) {
        (500.., _) => "error",
        (_, Some(code)) => code,
        (400.., None) => "client_error",
        _ => "ok",
    };
    let route = route(req, matched.as_ref());
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        request_id = request_id.as_str(),
        tenant = tenant.map(TenantId::as_str),
        route = &*route,
        method = req.method().as_str(),
        path = raw_path(req),
        status,
        code,
        outcome,
        latency_ms,
        "request"
    );
    if crate::telemetry::metrics_enabled() {
        let counted = counted
            .or_else(|| (outcome == "ok" && route == CONSUME_ROUTE).then_some(Counted::Consumed));
        metrics::emit(&metrics::RequestMetrics {
            request_id: &request_id,
            tenant: tenant.map(TenantId::as_str),
            route: &route,
            status,
            outcome,
            latency_ms,
            counted,
            guessing_pressure,
        });
    }
    response
}

/// The route whose successes count as `Consumed`.
const CONSUME_ROUTE: &str = "POST /coupon/consume";

/// What a request adds to a counter beside its latency.
#[derive(Debug, Clone, Copy)]
enum Counted {
    /// `POST /coupon/consume` answered 2xx.
    Consumed,
    /// A 409 refusal, by its code.
    Refused(&'static str),
    /// A 429, by its problem code.
    RateLimited(&'static str),
}

/// The API Gateway route key (`POST /coupon/consume`): that of the route
/// that matched, else (a `$default` route, local and in-process events) the
/// route table's label of the path.
fn route<'a>(req: &'a Request, matched: Option<&Matched<'_>>) -> Cow<'a, str> {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(key) = ctx
            .route_key
            .as_deref()
            .filter(|key| !key.is_empty() && *key != "$default")
    {
        return Cow::Borrowed(key);
    }
    Cow::Owned(routes::label(req.method(), matched))
}

/// CloudWatch embedded metric format: one JSON object a line, beside the
/// logs, that CloudWatch turns into metrics (namespace `METRICS_NAMESPACE`,
/// default `CouponService`).
mod metrics {
    use std::fmt::Write as _;
    use std::sync::OnceLock;

    use super::Counted;

    pub(super) struct RequestMetrics<'a> {
        pub request_id: &'a str,
        pub tenant: Option<&'a str>,
        pub route: &'a str,
        pub status: u16,
        pub outcome: &'a str,
        pub latency_ms: f64,
        pub counted: Option<Counted>,
        /// Adds `GuessingPressure` (no dimension: one alarm for all tenants).
        pub guessing_pressure: bool,
    }

    fn namespace() -> &'static str {
        static NAMESPACE: OnceLock<String> = OnceLock::new();
        NAMESPACE.get_or_init(|| {
            let mut ns = String::new();
            let configured = crate::config::env_value("METRICS_NAMESPACE");
            let name = configured.as_deref().filter(|n| !n.trim().is_empty());
            escape(&mut ns, name.unwrap_or("CouponService").trim());
            ns
        })
    }

    pub(super) fn emit(m: &RequestMetrics<'_>) {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let ns = namespace();
        // The counter beside Latency: its name, and its dimension and value.
        let counter = match m.counted {
            Some(Counted::Consumed) => None,
            Some(Counted::Refused(reason)) => Some(("Refused", "Reason", reason)),
            Some(Counted::RateLimited(code)) => Some(("RateLimited", "Code", code)),
            None => None,
        };
        let consumed = matches!(m.counted, Some(Counted::Consumed));
        let mut line = String::with_capacity(640);
        let _ = write!(
            line,
            r#"{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":[{{"Namespace":"{ns}","Dimensions":[["Route"]],"Metrics":[{{"Name":"Latency","Unit":"Milliseconds"}}"#
        );
        if consumed {
            line.push_str(r#",{"Name":"Consumed","Unit":"Count"}"#);
        }
        line.push_str("]}");
        if let Some((name, dimension, _)) = counter {
            let _ = write!(
                line,
                r#",{{"Namespace":"{ns}","Dimensions":[["{dimension}"]],"Metrics":[{{"Name":"{name}","Unit":"Count"}}]}}"#
            );
        }
        if m.guessing_pressure {
            let _ = write!(
                line,
                r#",{{"Namespace":"{ns}","Dimensions":[[]],"Metrics":[{{"Name":"GuessingPressure","Unit":"Count"}}]}}"#
            );
        }
        line.push_str(r#"]},"Route":""#);
        escape(&mut line, m.route);
        line.push_str(r#"","RequestId":""#);
        escape(&mut line, m.request_id);
        line.push('"');
        if let Some(tenant) = m.tenant {
            line.push_str(r#","TenantId":""#);
            escape(&mut line, tenant);
            line.push('"');
        }
        let _ = write!(line, r#","Status":{},"Outcome":""#, m.status);
        escape(&mut line, m.outcome);
        let latency = if m.latency_ms.is_finite() {
            m.latency_ms
        } else {
            0.0
        };
        let _ = write!(line, r#"","Latency":{latency:.3}"#);
        if consumed {
            line.push_str(r#","Consumed":1"#);
        }
        if let Some((name, dimension, value)) = counter {
            let _ = write!(line, r#","{dimension}":""#);
            escape(&mut line, value);
            let _ = write!(line, r#"","{name}":1"#);
        }
        if m.guessing_pressure {
            line.push_str(r#","GuessingPressure":1"#);
        }
        line.push_str("}\n");
        crate::telemetry::write_metrics_line(line.as_bytes());
    }

    /// `s` as the inside of a JSON string.
    fn escape(out: &mut String, s: &str) {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
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

/// 202 for a job: the worker does the work; the job's page shows progress.
pub fn job_accepted(job: &Job) -> Response<Body> {
    let mut response = json(StatusCode::ACCEPTED, &JobView::of(job));
    if let Ok(location) = HeaderValue::from_str(&format!("/coupon/jobs/{}", job.job_id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
