//! `/coupon` and `/coupon/{code}`: create, details, list, update, delete;
//! `/coupon/assign`: a campaign's unassigned code handed to a customer;
//! `/coupon/jobs/{job_id}`: jobs (bulk generation, campaign imports and
//! deletes), their codes and an import's skipped codes.

mod assign;
mod create;
mod delete;
mod details;
mod jobs;
mod list;
mod update;

use common::http::serve;
use common::request::{self, lenient};
use common::routes::{Matched, Route};
use common::store::JobListing;
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, &req, route).await)
}

async fn route(
    app: &App,
    tenant: TenantId,
    req: &Request,
    matched: Matched<'_>,
) -> Result<Response<Body>, ApiError> {
    let id = matched.param();
    match (req.method(), matched.route()) {
        (&Method::POST, Route::Coupons) => create::handle(app, &tenant, req).await,
        (&Method::POST, Route::Assign) => assign::handle(app, &tenant, req).await,
        (&Method::GET, Route::Coupons) => {
            let query: CouponQuery = request::decode(request::query_fields(req)?)?;
            let lists = query.limit.is_some()
                || query.cursor.is_some()
                || query.campaign_id.is_some()
                || query.customer_id.is_some();
            match &query.code {
                Some(code) if !lists => details::handle(app, &tenant, code).await,
                Some(_) => Err(ApiError::Invalid(
                    "give code for one coupon, or limit, cursor and campaign_id or customer_id \
                     for a list, not both"
                        .into(),
                )),
                None => list::handle(app, &tenant, query).await,
            }
        }
        (&Method::GET, Route::Job) => jobs::show(app, &tenant, id).await,
        (&Method::GET, route @ (Route::JobCodes | Route::JobSkipped)) => {
            let listing = match route {
                Route::JobSkipped => JobListing::Skipped,
                _ => JobListing::Codes,
            };
            let query: CodesQuery = request::decode(request::query_fields(req)?)?;
            jobs::listed(app, &tenant, id, listing, query.cursor.as_deref()).await
        }
        (&Method::PUT, Route::Coupon) => update::handle(app, &tenant, id, req).await,
        (&Method::DELETE, Route::Coupon) => delete::handle(app, &tenant, id).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

/// `GET /coupon`'s query: one coupon by `code`, or a page of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CouponQuery {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_number")]
    limit: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    cursor: Option<String>,
    /// Lists one campaign's codes.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    campaign_id: Option<String>,
    /// Lists one customer's personal codes.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    customer_id: Option<String>,
}

/// `GET /coupon/jobs/{job_id}/codes`'s and `/skipped`'s query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesQuery {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    cursor: Option<String>,
}
