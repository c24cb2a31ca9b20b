//! The scheduled daily export (EventBridge, daily by default) fans out: it
//! puts one message per tenant on the daily export queue, naming the tenant
//! and the previous UTC day, and `export-worker` exports each tenant's day
//! on its own, so one tenant's failure neither stops nor repeats the
//! others' (template.yaml: DailyExportQueue and its dead-letter queue).
//!
//! Tenants come from the tenants index (a Query, never a Scan). Any
//! failure to enqueue fails the invocation, so EventBridge retries it; a
//! tenant enqueued twice is exported twice to the same key with the same
//! rows.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::Utc;
use common::config::{Config, SettingError};
use common::queue::MessageQueue;
use common::store::{DynamoStore, TenantStore};
use exports::daily::{TenantDay, day_before};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// What the scheduled function builds once per cold start.
pub struct ScheduleApp {
    pub store: DynamoStore,
    /// The daily export queue (`DAILY_EXPORT_QUEUE_URL`).
    pub queue: MessageQueue,
}

impl ScheduleApp {
    /// `TABLE_NAME` and `DAILY_EXPORT_QUEUE_URL`, with one SDK config.
    pub fn from_env() -> Result<ScheduleApp, SettingError> {
        let sdk = common::app::sdk_config()?;
        let config = Config::from_env()?;
        Ok(ScheduleApp {
            store: DynamoStore::new(common::app::dynamodb_client(&sdk), config.table_name),
            queue: MessageQueue::from_env(&sdk, "DAILY_EXPORT_QUEUE_URL")?,
        })
    }
}

pub async fn handle(
    state: &ScheduleApp,
    event: LambdaEvent<EventBridgeEvent<Value>>,
) -> Result<Value, Error> {
    let day = day_before(event.payload.time.unwrap_or_else(Utc::now));
    let days: Vec<TenantDay> = state
        .store
        .list_tenants()
        .await?
        .into_iter()
        .map(|tenant| TenantDay {
            tenant: tenant.id,
            day,
        })
        .collect();
    let messages: Vec<String> = days.iter().map(TenantDay::to_message).collect();
    state.queue.send_all(&messages, "daily exports").await?;
    tracing::info!(%day, tenants = days.len(), "daily exports enqueued");
    Ok(json!({"day": day.to_string(), "enqueued": days.len()}))
}
