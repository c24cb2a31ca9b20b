//! `/coupon` and `/coupon/{code}`: create, details, list, update, delete;
//! `/coupon/jobs/{job_id}`: bulk generation jobs.

mod create;
mod delete;
mod details;
mod jobs;
mod list;
mod update;

use common::http::{path_segments, serve};
use common::request::{self, lenient};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, &req, route).await)
}

async fn route(app: &App, tenant: TenantId, req: &Request) -> Result<Response<Body>, ApiError> {
    match (req.method(), path_segments(req).as_slice()) {
        (&Method::POST, ["coupon"]) => create::handle(app, &tenant, req).await,
        (&Method::GET, ["coupon"]) => {
            let query: CouponQuery = request::decode(request::query_fields(req)?)?;
            match query.code {
                Some(code) if query.limit.is_none() && query.cursor.is_none() => {
                    details::handle(app, &tenant, &code).await
                }
                Some(_) => Err(ApiError::Invalid(
                    "give code for one coupon, or limit and cursor for a list, not both".into(),
                )),
                None => list::handle(app, &tenant, query.limit, query.cursor.as_deref()).await,
            }
        }
        (&Method::GET, ["coupon", "jobs", job_id]) => jobs::show(app, &tenant, job_id).await,
        (&Method::GET, ["coupon", "jobs", job_id, "codes"]) => {
            let query: CodesQuery = request::decode(request::query_fields(req)?)?;
            jobs::codes(app, &tenant, job_id, query.cursor.as_deref()).await
        }
        (_, ["coupon", "jobs", _] | ["coupon", "jobs", _, "codes"]) => {
            Err(ApiError::MethodNotAllowed { allow: "GET" })
        }
        (&Method::PUT, ["coupon", code]) => update::handle(app, &tenant, code, req).await,
        (&Method::DELETE, ["coupon", code]) => delete::handle(app, &tenant, code).await,
        (_, ["coupon"]) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (_, ["coupon", _]) => Err(ApiError::MethodNotAllowed {
            allow: "PUT, DELETE",
        }),
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

/// `GET /coupon`'s query: one coupon by `code`, or a page of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CouponQuery {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_number")]
    limit: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    cursor: Option<String>,
}

/// `GET /coupon/jobs/{job_id}/codes`'s query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesQuery {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    cursor: Option<String>,
}
