//! `POST /webhooks/{webhook_id}/rotate-secret`: a new signing secret, shown
//! once. For a day the old one signs too (a second signature in
//! `webhook-signature`), so the receiver can switch without a refusal.

use common::http::json;
use common::store::WebhookStore;
use common::tenant::TenantId;
use common::views::WebhookSecretView;
use common::webhook::{PREVIOUS_SECRET_GRACE, WebhookSecret};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::webhook_id;

pub async fn handle(app: &App, tenant: &TenantId, id: &str) -> Result<Response<Body>, ApiError> {
    let grace = chrono::Duration::from_std(PREVIOUS_SECRET_GRACE).unwrap_or_default();
    let hook = app
        .store
        .rotate_secret(
            tenant,
            &webhook_id(id)?,
            &WebhookSecret::generate(),
            app.clock.now() + grace,
        )
        .await?;
    Ok(json(StatusCode::OK, &WebhookSecretView::of(&hook)))
}
