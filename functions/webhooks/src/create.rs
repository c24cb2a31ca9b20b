//! `POST /webhooks` (`url`, `events`, `description`): a new webhook, 201
//! with its signing secret, shown this once. The URL must be https and
//! resolve only to public addresses (checked again at every delivery).

use common::event::EventFilter;
use common::http::json;
use common::request::{self, lenient};
use common::ssrf::{AddressPolicy, WebhookUrl};
use common::store::WebhookStore;
use common::tenant::TenantId;
use common::views::WebhookSecretView;
use common::webhook::{Webhook, WebhookId, WebhookSecret, parse_description};
use common::{ApiError, App};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    #[serde(deserialize_with = "lenient::text")]
    url: String,
    /// A list, or (as forms send it) comma-separated text.
    #[serde(deserialize_with = "lenient::patch_list")]
    events: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    description: Option<String>,
}

pub async fn handle(
    app: &App,
    policy: AddressPolicy,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let asked: NewWebhook = request::decode(request::body_fields(req).await?)?;
    let names = asked.events.flatten().unwrap_or_default();
    let events = EventFilter::parse(&names)?;
    let description = parse_description(asked.description)?;
    let url = WebhookUrl::parse(&asked.url, policy)?;
    url.resolve(policy).await?;
    let hook = Webhook {
        id: WebhookId::generate(),
        url: url.as_str().to_owned(),
        events,
        description,
        secret: WebhookSecret::generate(),
        previous_secret: None,
        created_at: app.clock.now(),
        failing_since: None,
        disabled: None,
    };
    app.store.create_webhook(tenant, &hook).await?;
    let mut response = json(StatusCode::CREATED, &WebhookSecretView::of(&hook));
    if let Ok(location) = HeaderValue::from_str(&format!("/webhooks/{}", hook.id.as_str())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
