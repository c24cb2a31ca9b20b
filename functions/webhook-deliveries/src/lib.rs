//! The webhook deliveries function: each message of the webhook queue is
//! one event for one webhook (put there by the `events` function). It is
//! POSTed as the Standard Webhooks specification says: headers
//! `webhook-id` (the event's id, the same at every attempt, so receivers
//! drop duplicates), `webhook-timestamp` and `webhook-signature`.
//!
//! A 2xx within 10 s is delivered. Anything else is tried again after the
//! retry schedule's next wait (`WEBHOOK_RETRY_SCHEDULE`): the message is
//! made invisible that long and reported failed, so SQS hands it over
//! again then. After the schedule's last attempt it is dropped. A webhook
//! whose deliveries have all failed for a day is disabled, and its
//! messages are dropped from then on. The URL is checked against the SSRF
//! rules at every attempt, and only the addresses checked are connected to.

mod http;

pub use http::{DELIVERY_TIMEOUT, Posted, WebhookClient};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use chrono::{DateTime, Utc};
use common::config::{Config, SettingError};
use common::dates::Clock;
use common::queue::MessageQueue;
use common::ssrf::{AddressPolicy, WebhookUrl};
use common::store::{DeliveryStore, DynamoStore, StoreError, WebhookStore};
use common::tenant::TenantId;
use common::webhook::{
    DISABLE_AFTER_FAILING, Delivery, DeliveryMessage, RetrySchedule, Webhook, WebhookId,
    signature_header,
};
use futures_util::future::join_all;
use lambda_runtime::{Error, LambdaEvent};

/// What the deliveries function builds once per cold start.
pub struct Courier {
    pub store: DynamoStore,
    /// The webhook queue, whose messages' visibility sets the next attempt.
    pub queue: MessageQueue,
    pub schedule: RetrySchedule,
    pub policy: AddressPolicy,
    pub client: WebhookClient,
    /// How long a webhook may fail every delivery before it is disabled.
    pub disable_after: chrono::Duration,
    pub clock: Clock,
}

impl Courier {
    pub fn from_env() -> Result<Courier, SettingError> {
        let sdk = common::app::sdk_config()?;
        let config = Config::from_env()?;
        Ok(Courier {
            store: DynamoStore::new(common::app::dynamodb_client(&sdk), config.table_name),
            queue: MessageQueue::from_env(&sdk, "WEBHOOK_QUEUE_URL")?,
            schedule: RetrySchedule::from_env()?,
            policy: AddressPolicy::from_env()?,
            client: WebhookClient::new(),
            disable_after: chrono::Duration::from_std(DISABLE_AFTER_FAILING).unwrap_or_default(),
            clock: Clock::default(),
        })
    }
}

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Delivered, or never to be: the message is done.
    Done,
    /// To be tried again when SQS shows the message again: after this wait,
    /// or (`None`, the store failed) after the queue's visibility timeout.
    Again(Option<Duration>),
}

/// A webhook as this batch read it (`None`: gone), once for all its
/// messages, and whether a delivery of the batch already cleared or set
/// its failing mark: one write does for the batch.
struct BatchHook {
    hook: Option<Webhook>,
    cleared: AtomicBool,
    marked: AtomicBool,
}

type HookKey = (TenantId, WebhookId);

pub async fn handle(
    courier: &Courier,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let messages = &event.payload.records;
    let parsed: Vec<Option<(HookKey, DeliveryMessage)>> = messages.iter().map(parse).collect();
    let mut hooks: HashMap<HookKey, Result<BatchHook, StoreError>> = HashMap::new();
    for (key, _) in parsed.iter().flatten() {
        if !hooks.contains_key(key) {
            let read = courier.store.get_webhook(&key.0, &key.1).await;
            let state = read.map(|hook| BatchHook {
                hook,
                cleared: AtomicBool::new(false),
                marked: AtomicBool::new(false),
            });
            hooks.insert(key.clone(), state);
        }
    }
    // The batch's messages go to different receivers: one slow receiver
    // must not hold the others up.
    let outcomes = join_all(messages.iter().zip(&parsed).map(|(message, parsed)| {
        let hooks = &hooks;
        async move {
            let Some((key, delivery)) = parsed else {
                tracing::error!(body = ?message.body, "not a delivery message; dropped");
                return Outcome::Done;
            };
            let outcome = match &hooks[key] {
                Ok(state) => courier.deliver(message, key, delivery, state).await,
                Err(e) => Err(StoreError::Unavailable(e.to_string())),
            };
            outcome.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "delivery not recorded; SQS will hand it over again");
                Outcome::Again(None)
            })
        }
    }))
    .await;
    let waits: Vec<(&SqsMessage, Duration)> = messages
        .iter()
        .zip(&outcomes)
        .filter_map(|(message, outcome)| match outcome {
            Outcome::Again(Some(wait)) => Some((message, *wait)),
            _ => None,
        })
        .collect();
    courier.show_again_after(&waits).await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in messages.iter().zip(&outcomes) {
        if matches!(outcome, Outcome::Again(_)) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// The webhook a message is for, and the delivery it holds.
fn parse(message: &SqsMessage) -> Option<(HookKey, DeliveryMessage)> {
    let delivery: DeliveryMessage = serde_json::from_str(message.body.as_deref()?).ok()?;
    let tenant = TenantId::parse(&delivery.tenant).ok()?;
    let hook = WebhookId::parse(&delivery.webhook_id)?;
    Some(((tenant, hook), delivery))
}

impl Courier {
    async fn deliver(
        &self,
        message: &SqsMessage,
        (tenant, hook_id): &HookKey,
        delivery: &DeliveryMessage,
        state: &BatchHook,
    ) -> Result<Outcome, StoreError> {
        let Some(hook) = state.hook.as_ref().filter(|hook| hook.disabled.is_none()) else {
            // Gone or disabled: its deliveries stop.
            return Ok(Outcome::Done);
        };
        // SQS counts the receives; the first is the first attempt.
        let attempt: u32 = message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        let now = self.clock.now();
        let posted = self.post(hook, delivery, now).await;
        let delivered = posted
            .status
            .as_ref()
            .is_ok_and(|code| (200..300).contains(code));
        let wait = (!delivered).then(|| self.schedule.after(attempt)).flatten();
        let record = Delivery {
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            attempt,
            attempted_at: now,
            status_code: posted.status.as_ref().ok().copied(),
            error: match &posted.status {
                Ok(code) if !delivered => Some(format!("the receiver answered {code}")),
                Ok(_) => None,
                Err(reason) => Some(reason.clone()),
            },
            duration_ms: posted.took.as_millis() as u64,
            next_attempt_at: wait.map(|w| now + chrono::Duration::from_std(w).unwrap_or_default()),
        };
        self.store.record_delivery(tenant, hook_id, &record).await?;
        tracing::info!(tenant = %tenant, webhook = hook_id.as_str(), event_id = %delivery.event_id, attempt, delivered, error = ?record.error, "webhook delivery");
        if delivered {
            if hook.failing_since.is_some() && !state.cleared.swap(true, Ordering::Relaxed) {
                self.store.delivery_succeeded(tenant, hook_id).await?;
            }
            return Ok(Outcome::Done);
        }
        if !state.marked.swap(true, Ordering::Relaxed) {
            let after = self
                .store
                .delivery_failed(tenant, hook_id, now, self.disable_after)
                .await?;
            if after.is_none_or(|hook| hook.disabled.is_some()) {
                tracing::warn!(tenant = %tenant, webhook = hook_id.as_str(), "webhook disabled or gone; its deliveries stop");
                return Ok(Outcome::Done);
            }
        }
        match wait {
            Some(wait) => Ok(Outcome::Again(Some(wait))),
            None => {
                tracing::warn!(tenant = %tenant, webhook = hook_id.as_str(), event_id = %delivery.event_id, attempt, "last attempt failed; the event is not delivered");
                Ok(Outcome::Done)
            }
        }
    }

    /// POSTs the event, signed: the status (or why there is none).
    async fn post(&self, hook: &Webhook, delivery: &DeliveryMessage, now: DateTime<Utc>) -> Posted {
        // Checked at every attempt: what a name resolves to can change.
        let refused = |e: common::ssrf::UnsafeTarget| Posted {
            status: Err(e.to_string()),
            took: std::time::Duration::ZERO,
        };
        let url = match WebhookUrl::parse(&hook.url, self.policy) {
            Ok(url) => url,
            Err(e) => return refused(e),
        };
        let addresses = match url.resolve(self.policy).await {
            Ok(addresses) => addresses,
            Err(e) => return refused(e),
        };
        let timestamp = now.timestamp();
        let signature = signature_header(
            &hook.signing_secrets(now),
            &delivery.event_id,
            timestamp,
            &delivery.body,
        );
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("user-agent", "coupon-service-webhooks/1".to_owned()),
            ("webhook-id", delivery.event_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        self.client
            .post(url.as_str(), addresses, &headers, delivery.body.clone())
            .await
    }

    /// Makes each message invisible for its wait, so SQS hands it over
    /// again then: one `ChangeMessageVisibilityBatch` for the batch. Where
    /// that fails, the queue's visibility timeout applies instead.
    async fn show_again_after(&self, waits: &[(&SqsMessage, Duration)]) {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = waits
            .iter()
            .enumerate()
            .filter_map(|(i, (message, wait))| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(message.receipt_handle.as_deref()?)
                    .visibility_timeout(wait.as_secs() as i32)
                    .build()
                    .ok()
            })
            .collect();
        // SQS takes ten entries a call; a batch holds at most ten messages.
        for chunk in entries.chunks(10) {
            let result = self
                .queue
                .client()
                .change_message_visibility_batch()
                .queue_url(self.queue.url())
                .set_entries(Some(chunk.to_vec()))
                .send()
                .await;
            match result {
                Ok(output) if output.failed().is_empty() => {}
                Ok(output) => {
                    tracing::warn!(failed = ?output.failed(), "could not set some next attempts' times")
                }
                Err(e) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "could not set the next attempts' times")
                }
            }
        }
    }
}
