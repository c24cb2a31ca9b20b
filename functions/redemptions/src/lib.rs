//! `/redemptions`: the redemption log as an API, for support and finance
//! ("did customer X use a code, on which order?"): a query by code,
//! customer, campaign, kind and time, newest first, and one row by its id
//! with its reversal; and the log's figures per day (`GET /stats`).

mod details;
mod list;
mod stats;

use common::http::serve;
use common::routes::{Matched, Route};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, &req, route).await)
}

async fn route(
    app: &App,
    tenant: TenantId,
    req: &Request,
    matched: Matched<'_>,
) -> Result<Response<Body>, ApiError> {
    match (req.method(), matched.route()) {
        (&Method::GET, Route::Redemptions) => list::handle(app, &tenant, req).await,
        (&Method::GET, Route::Redemption) => details::handle(app, &tenant, matched.param()).await,
        (&Method::GET, Route::Stats) => stats::handle(app, &tenant, req).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}
