//! `GET /redemptions/{redemption_id}`: one row of the log, a consume with
//! its reversal if it was rolled back, or a reversal.

use common::http::json;
use common::store::LedgerStore;
use common::tenant::TenantId;
use common::views::{LedgerEntryView, RedemptionView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    redemption_id: &str,
) -> Result<Response<Body>, ApiError> {
    // The key is built from the caller's tenant: another tenant's id finds nothing.
    let not_found = || ApiError::NotFound(format!("no redemption {redemption_id}"));
    let row = app
        .store
        .ledger_entry(tenant, redemption_id)
        .await?
        .ok_or_else(not_found)?;
    let reversal = match &row.rolled_back_by {
        Some(id) => app.store.ledger_entry(tenant, id).await?,
        None => None,
    };
    let view = LedgerEntryView {
        row: RedemptionView::logged(&row),
        reversal: reversal.as_ref().map(RedemptionView::logged),
    };
    Ok(json(StatusCode::OK, &view))
}
