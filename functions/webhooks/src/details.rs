//! `GET /webhooks/{webhook_id}`: one webhook, with why it was disabled if it was.

use common::http::json;
use common::store::WebhookStore;
use common::tenant::TenantId;
use common::views::WebhookView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::{not_found, webhook_id};

pub async fn handle(app: &App, tenant: &TenantId, id: &str) -> Result<Response<Body>, ApiError> {
    // The key holds the caller's tenant: another tenant's id finds nothing.
    let hook = app
        .store
        .get_webhook(tenant, &webhook_id(id)?)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(json(StatusCode::OK, &WebhookView::of(&hook)))
}
