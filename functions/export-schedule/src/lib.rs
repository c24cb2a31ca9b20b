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

use std::time::Duration;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use chrono::Utc;
use common::config::{Config, SettingError, env_value};
use common::store::{DynamoStore, TenantStore};
use exports::daily::{TenantDay, day_before};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// SQS takes at most ten messages a batch.
const BATCH: usize = 10;
/// Rounds of sending the entries a batch could not take.
const ROUNDS: u32 = 3;

/// What the scheduled function builds once per cold start.
pub struct ScheduleApp {
    pub store: DynamoStore,
    pub queue: DailyExportQueue,
}

impl ScheduleApp {
    /// `TABLE_NAME` and `DAILY_EXPORT_QUEUE_URL`, with one SDK config.
    pub fn from_env() -> Result<ScheduleApp, SettingError> {
        let sdk = common::app::sdk_config()?;
        let config = Config::from_env()?;
        Ok(ScheduleApp {
            store: DynamoStore::new(common::app::dynamodb_client(&sdk), config.table_name),
            queue: DailyExportQueue::from_env(&sdk)?,
        })
    }
}

/// The queue of tenant days.
pub struct DailyExportQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl DailyExportQueue {
    pub fn from_env(sdk: &aws_types::SdkConfig) -> Result<DailyExportQueue, SettingError> {
        let url = env_value("DAILY_EXPORT_QUEUE_URL")
            .ok_or(SettingError::Missing("DAILY_EXPORT_QUEUE_URL"))?;
        Ok(DailyExportQueue::new(aws_sdk_sqs::Client::new(sdk), url))
    }

    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> DailyExportQueue {
        DailyExportQueue {
            sqs,
            url: url.into(),
        }
    }

    /// Puts one message per tenant day, ten a call. Entries SQS could not
    /// take are sent again (the SDK already retried whole calls); what is
    /// still refused after that fails the run.
    pub async fn enqueue(&self, days: &[TenantDay]) -> Result<(), Error> {
        for batch in days.chunks(BATCH) {
            let mut pending: Vec<SendMessageBatchRequestEntry> = batch
                .iter()
                .enumerate()
                .map(|(i, day)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(day.to_message())
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            for round in 1..=ROUNDS {
                let sent = self
                    .sqs
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "enqueueing daily exports: {}",
                            aws_sdk_sqs::error::DisplayErrorContext(e)
                        )
                    })?;
                let failed: Vec<&str> = sent.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    break;
                }
                if round == ROUNDS {
                    return Err(format!(
                        "SQS refused {} daily export messages: {:?}",
                        failed.len(),
                        sent.failed()
                    )
                    .into());
                }
                pending.retain(|entry| failed.contains(&entry.id()));
                tokio::time::sleep(Duration::from_millis(100 * u64::from(round))).await;
            }
        }
        Ok(())
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
    state.queue.enqueue(&days).await?;
    tracing::info!(%day, tenants = days.len(), "daily exports enqueued");
    Ok(json!({"day": day.to_string(), "enqueued": days.len()}))
}
