//! The redemption routes: validate and consume (`/coupon/consume`), roll a
//! consume back (`/coupon/consume/{redemption_id}/rollback`), and hold a use
//! for a checkout (`/coupon/reserve`, `/coupon/reserve/{reservation_id}`).

mod consume;
mod redeem;
mod reserve;
mod rollback;
mod validate;

use common::http::{path_segments, serve};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, &req, route).await)
}

async fn route(app: &App, tenant: TenantId, req: &Request) -> Result<Response<Body>, ApiError> {
    match (req.method(), path_segments(req).as_slice()) {
        (&Method::GET, ["coupon", "consume"]) => validate::handle(app, &tenant, req).await,
        (&Method::POST, ["coupon", "consume"]) => consume::handle(app, &tenant, req).await,
        (&Method::POST, ["coupon", "consume", id, "rollback"]) => {
            rollback::handle(app, &tenant, id).await
        }
        (&Method::POST, ["coupon", "reserve"]) => reserve::create(app, &tenant, req).await,
        (&Method::GET, ["coupon", "reserve", id]) => reserve::show(app, &tenant, id).await,
        (&Method::DELETE, ["coupon", "reserve", id]) => reserve::release(app, &tenant, id).await,
        (_, ["coupon", "consume"]) => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
        (_, ["coupon", "consume", _, "rollback"] | ["coupon", "reserve"]) => {
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        }
        (_, ["coupon", "reserve", _]) => Err(ApiError::MethodNotAllowed {
            allow: "GET, DELETE",
        }),
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}
