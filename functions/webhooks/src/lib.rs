//! `/webhooks`: where a tenant's events are delivered. A webhook is
//! registered with its URL (checked against the SSRF rules, `common::ssrf`)
//! and the event types it wants; its signing secret is shown when it is
//! made and when it is rotated, never again. `deliveries` lists its recent
//! attempts. The events themselves come from the table's stream (the
//! `events` function) and are delivered by `webhook-deliveries`.

mod create;
mod deliveries;
mod details;
mod rotate;

use common::http::{json, no_content, serve};
use common::routes::{Matched, Route};
use common::ssrf::AddressPolicy;
use common::store::WebhookStore;
use common::tenant::TenantId;
use common::views::{ListView, WebhookView};
use common::webhook::WebhookId;
use common::{ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};

pub async fn handle(
    app: &App,
    policy: AddressPolicy,
    req: Request,
) -> Result<Response<Body>, Error> {
    Ok(serve(app, &req, |app, tenant, req, matched| {
        route(app, policy, tenant, req, matched)
    })
    .await)
}

async fn route(
    app: &App,
    policy: AddressPolicy,
    tenant: TenantId,
    req: &Request,
    matched: Matched<'_>,
) -> Result<Response<Body>, ApiError> {
    match (req.method(), matched.route()) {
        (&Method::POST, Route::Webhooks) => create::handle(app, policy, &tenant, req).await,
        (&Method::GET, Route::Webhooks) => {
            let hooks = app.store.list_webhooks(&tenant).await?;
            Ok(json(
                StatusCode::OK,
                &ListView::all(hooks.iter().map(WebhookView::of).collect()),
            ))
        }
        (&Method::GET, Route::Webhook) => details::handle(app, &tenant, matched.param()).await,
        (&Method::DELETE, Route::Webhook) => {
            app.store
                .delete_webhook(&tenant, &webhook_id(matched.param())?)
                .await?;
            Ok(no_content())
        }
        (&Method::POST, Route::WebhookSecretRotation) => {
            rotate::handle(app, &tenant, matched.param()).await
        }
        (&Method::GET, Route::WebhookDeliveries) => {
            deliveries::handle(app, &tenant, req, matched.param()).await
        }
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

/// A webhook id from the path; one that cannot be ours is not found.
fn webhook_id(text: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(text).ok_or_else(|| not_found(text))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no webhook {id}"))
}
