//! The events function: it reads the table's stream and hands each event
//! on, to the EventBridge bus and, one message per webhook that wants it,
//! to the webhook queue (`webhook-deliveries` delivers them). Events are
//! derived from committed changes only (`common::event_source`), never
//! written by the API functions, so an event exists exactly when its
//! change does.
//!
//! Lambda hands a batch of stream records over at least once. Each event
//! handed on is marked in the table after the bus and the queue took it;
//! a batch read again skips the marked ones, and an event whose marking a
//! crash prevented goes out again with the same id, which receivers use
//! to drop the second copy. A failure fails the invocation: Lambda retries
//! the batch (see template.yaml's EventsFunction for its limits).

mod bus;

pub use bus::EventBus;

use std::collections::HashMap;

use common::config::{Config, SettingError};
use common::event::Event;
use common::event_source::events_of;
use common::queue::MessageQueue;
use common::store::{DeliveryStore, DynamoStore, WebhookStore};
use common::tenant::TenantId;
use common::views::EventView;
use common::webhook::{DeliveryMessage, Webhook};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// What the events function builds once per cold start.
pub struct EventsApp {
    pub store: DynamoStore,
    pub bus: EventBus,
    /// The webhook queue (`WEBHOOK_QUEUE_URL`).
    pub webhooks: MessageQueue,
}

impl EventsApp {
    pub fn from_env() -> Result<EventsApp, SettingError> {
        let sdk = common::app::sdk_config()?;
        let config = Config::from_env()?;
        Ok(EventsApp {
            store: DynamoStore::new(common::app::dynamodb_client(&sdk), config.table_name),
            bus: EventBus::from_env(&sdk)?,
            webhooks: MessageQueue::from_env(&sdk, "WEBHOOK_QUEUE_URL")?,
        })
    }
}

pub async fn handle(app: &EventsApp, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let records = event.payload["Records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let events = events_of(&app.store, records).await?;
    let handed_on = app.store.events_handed_on(&events).await?;
    let fresh: Vec<Event> = events
        .into_iter()
        .filter(|e| !handed_on.contains(&e.id))
        .collect();
    let bodies: Vec<String> = fresh
        .iter()
        .map(|e| serde_json::to_string(&EventView::of(e)))
        .collect::<Result<_, _>>()?;
    app.bus.put(&fresh).await?;
    let deliveries = deliveries(&app.store, &fresh, &bodies).await?;
    app.webhooks
        .send_all(&deliveries, "webhook deliveries")
        .await?;
    app.store
        .mark_handed_on(&fresh, common::dates::now())
        .await?;
    for e in &fresh {
        tracing::info!(tenant = %e.tenant, event_id = %e.id, event_type = e.kind.as_str(), "event handed on");
    }
    Ok(json!({
        "records": records.len(),
        "events": fresh.len(),
        "already_handed_on": handed_on.len(),
        "deliveries": deliveries.len(),
    }))
}

/// One queue message per event and webhook of its tenant that wants it.
async fn deliveries(
    store: &DynamoStore,
    events: &[Event],
    bodies: &[String],
) -> Result<Vec<String>, Error> {
    let mut hooks: HashMap<&TenantId, Vec<Webhook>> = HashMap::new();
    let mut messages = Vec::new();
    for (event, body) in events.iter().zip(bodies) {
        if !hooks.contains_key(&event.tenant) {
            hooks.insert(&event.tenant, store.list_webhooks(&event.tenant).await?);
        }
        for hook in &hooks[&event.tenant] {
            if hook.wants(event.kind) {
                let message = DeliveryMessage {
                    tenant: event.tenant.as_str().to_owned(),
                    webhook_id: hook.id.as_str().to_owned(),
                    event_id: event.id.clone(),
                    event_type: event.kind.as_str().to_owned(),
                    body: body.clone(),
                };
                messages.push(serde_json::to_string(&message)?);
            }
        }
    }
    Ok(messages)
}
