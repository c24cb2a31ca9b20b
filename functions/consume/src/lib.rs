//! The redemption routes: validate and consume (`/coupon/consume`), roll a
//! consume back (`/coupon/consume/{redemption_id}/rollback`), and hold a use
//! for a checkout (`/coupon/reserve`, `/coupon/reserve/{reservation_id}`).

mod consume;
mod redeem;
mod reserve;
mod rollback;
mod validate;

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
    let id = matched.param();
    match (req.method(), matched.route()) {
        (&Method::GET, Route::Consume) => validate::handle(app, &tenant, req).await,
        (&Method::POST, Route::Consume) => consume::handle(app, &tenant, req).await,
        (&Method::POST, Route::Rollback) => rollback::handle(app, &tenant, id).await,
        (&Method::POST, Route::Reservations) => reserve::create(app, &tenant, req).await,
        (&Method::GET, Route::Reservation) => reserve::show(app, &tenant, id).await,
        (&Method::DELETE, Route::Reservation) => reserve::release(app, &tenant, id).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}
