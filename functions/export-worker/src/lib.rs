//! The daily export worker: each message of the daily export queue names a
//! tenant and a day (`export-schedule` puts them there), and this function
//! exports that day to S3 (`exports::daily`). A message whose export fails
//! is reported back as a batch item failure: SQS shows it again after its
//! visibility timeout, and after three receives moves it to the
//! dead-letter queue, whose alarm tells the operators. The other messages
//! of the batch, and every other tenant, are not held up by it.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use common::ApiError;
use exports::ExportsApp;
use exports::daily::{TenantDay, export_day};
use lambda_runtime::{Error, LambdaEvent};

pub async fn handle(
    state: &ExportsApp,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.payload.records {
        if let Err(e) = export_message(state, message).await {
            let id = message.message_id.clone().unwrap_or_default();
            tracing::error!(message_id = %id, body = ?message.body, error = %e, "daily export failed; SQS will deliver it again");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

async fn export_message(state: &ExportsApp, message: &SqsMessage) -> Result<(), ApiError> {
    let day = TenantDay::parse_message(message.body.as_deref().unwrap_or_default())?;
    let record = export_day(state, &day).await?;
    tracing::info!(tenant = %day.tenant, day = %day.day, key = %record.key, rows = record.rows, "daily export written");
    Ok(())
}
