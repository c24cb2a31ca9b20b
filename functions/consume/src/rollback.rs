//! `POST /coupon/consume/{redemption_id}/rollback`: an order was cancelled
//! or refunded; the use goes back to the coupon and the log gets a
//! reversal row, exactly once.

use common::http::json;
use common::store::RollbackStore;
use common::tenant::TenantId;
use common::views::RedemptionView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    redemption_id: &str,
) -> Result<Response<Body>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no redemption {redemption_id}"));
    let original = app
        .store
        .get_redemption(tenant, redemption_id)
        .await?
        .ok_or_else(not_found)?;
    let (reversal, use_returned) = app
        .store
        .roll_back(tenant, &original, app.clock.now())
        .await?;
    app.recent_coupons.remove(&(tenant.clone(), original.code));
    Ok(json(
        StatusCode::OK,
        &RedemptionView::reversal(&reversal, use_returned),
    ))
}
