//! `GET /coupon?code=C`: one coupon of the caller's tenant.

use common::code::CouponCode;
use common::http::json;
use common::store::CouponStore;
use common::tenant::TenantId;
use common::views::CouponView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub async fn handle(app: &App, tenant: &TenantId, code: &str) -> Result<Response<Body>, ApiError> {
    let code = CouponCode::parse(code)?;
    match app.store.get_coupon(tenant, &code).await? {
        Some(coupon) => Ok(json(StatusCode::OK, &CouponView::of(&coupon))),
        None => Err(ApiError::NotFound(format!("no coupon {code}"))),
    }
}
