//! `DELETE /coupon/{code}`: removes the coupon; its redemption log stays.

use common::code::CouponCode;
use common::http::no_content;
use common::store::{CouponStore, LiveCodeStore, Missing, StoreError};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::{Body, Response};

pub async fn handle(app: &App, tenant: &TenantId, code: &str) -> Result<Response<Body>, ApiError> {
    let code = CouponCode::parse(code)?;
    match app
        .store
        .delete_coupon(tenant, &code, app.clock.now())
        .await
    {
        Ok(shape) => {
            // A generated code leaves its keyspace; an over-count after a
            // failure here only makes the guessing policy stricter.
            if let Some(shape) = shape
                && let Err(e) = app.store.release_live_codes(tenant, &shape, 1).await
            {
                tracing::warn!(error = %e, "could not give back a deleted code's live-code count");
            }
            Ok(no_content())
        }
        Err(StoreError::NotFound(Missing::Coupon)) => {
            Err(ApiError::NotFound(format!("no coupon {code}")))
        }
        Err(e) => Err(e.into()),
    }
}
