//! `DELETE /coupon/{code}`: removes the coupon; its redemption log stays.

use common::code::CouponCode;
use common::http::no_content;
use common::store::{Missing, StoreError};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::{Body, Response};

pub async fn handle(app: &App, tenant: &TenantId, code: &str) -> Result<Response<Body>, ApiError> {
    let code = CouponCode::parse(code)?;
    match app
        .store
        .retire_coupon(tenant, &code, None, app.clock.now())
        .await
    {
        Ok(()) => Ok(no_content()),
        Err(StoreError::NotFound(Missing::Coupon)) => {
            Err(ApiError::NotFound(format!("no coupon {code}")))
        }
        Err(e) => Err(e.into()),
    }
}
