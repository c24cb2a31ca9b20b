//! An SQS queue that messages are sent to in batches: the daily export
//! queue (tenant days) and the webhook queue (one delivery each).

use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::config::{SettingError, env_value};

/// SQS takes at most ten messages a batch.
const BATCH: usize = 10;
/// Rounds of sending the entries a batch could not take.
const ROUNDS: u32 = 3;

pub struct MessageQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl MessageQueue {
    /// The queue whose URL the setting `name` holds.
    pub fn from_env(
        sdk: &aws_types::SdkConfig,
        name: &'static str,
    ) -> Result<MessageQueue, SettingError> {
        let url = env_value(name).ok_or(SettingError::Missing(name))?;
        Ok(MessageQueue::new(aws_sdk_sqs::Client::new(sdk), url))
    }

    pub fn new(sqs: aws_sdk_sqs::Client, url: impl Into<String>) -> MessageQueue {
        MessageQueue {
            sqs,
            url: url.into(),
        }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one message per body, ten a call. Entries SQS could not take
    /// are sent again (the SDK already retried whole calls); what is still
    /// refused after that is an error, naming `what` the messages are.
    pub async fn send_all(&self, bodies: &[String], what: &str) -> Result<(), String> {
        for batch in bodies.chunks(BATCH) {
            let mut pending: Vec<SendMessageBatchRequestEntry> = batch
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
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
                            "enqueueing {what}: {}",
                            aws_sdk_sqs::error::DisplayErrorContext(e)
                        )
                    })?;
                let failed: Vec<&str> = sent.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    break;
                }
                if round == ROUNDS {
                    return Err(format!(
                        "SQS refused {} {what} messages: {:?}",
                        failed.len(),
                        sent.failed()
                    ));
                }
                pending.retain(|entry| failed.contains(&entry.id()));
                tokio::time::sleep(Duration::from_millis(100 * u64::from(round))).await;
            }
        }
        Ok(())
    }
}
