//! The EventBridge bus every event is also put on (`source`
//! `coupon-service`, `detail-type` the event type), so AWS users route
//! them with rules and no code.

use std::time::Duration;

use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use common::config::{SettingError, env_value};
use common::event::Event;
use common::views::BusEventView;
use lambda_runtime::Error;

pub const SOURCE: &str = "coupon-service";
/// PutEvents takes ten entries a call, of at most 256 KB together; an
/// event's data is at most a few tens of kilobytes (metadata's limits).
const ENTRIES_PER_CALL: usize = 10;
const ROUNDS: u32 = 3;

pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

impl EventBus {
    /// The bus `EVENT_BUS_NAME` names.
    pub fn from_env(sdk: &aws_types::SdkConfig) -> Result<EventBus, SettingError> {
        let name = env_value("EVENT_BUS_NAME").ok_or(SettingError::Missing("EVENT_BUS_NAME"))?;
        Ok(EventBus::new(aws_sdk_eventbridge::Client::new(sdk), name))
    }

    pub fn new(client: aws_sdk_eventbridge::Client, name: impl Into<String>) -> EventBus {
        EventBus {
            client,
            name: name.into(),
        }
    }

    /// Puts each event. Entries refused are put again; still refused,
    /// they fail the call.
    pub async fn put(&self, events: &[Event]) -> Result<(), Error> {
        let entries = events
            .iter()
            .map(|event| {
                Ok(PutEventsRequestEntry::builder()
                    .event_bus_name(&self.name)
                    .source(SOURCE)
                    .detail_type(event.kind.as_str())
                    .detail(serde_json::to_string(&BusEventView::of(event))?)
                    .time(DateTime::from_millis(event.created_at.timestamp_millis()))
                    .build())
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        for chunk in entries.chunks(ENTRIES_PER_CALL) {
            let mut pending = chunk.to_vec();
            for round in 1..=ROUNDS {
                let output = self
                    .client
                    .put_events()
                    .set_entries(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "putting events: {}",
                            aws_sdk_eventbridge::error::DisplayErrorContext(e)
                        )
                    })?;
                if output.failed_entry_count() == 0 {
                    break;
                }
                // Results come in the order of the entries; failed ones carry an error code.
                let refused: Vec<PutEventsRequestEntry> = pending
                    .iter()
                    .zip(output.entries())
                    .filter(|(_, result)| result.error_code().is_some())
                    .map(|(entry, _)| entry.clone())
                    .collect();
                if round == ROUNDS {
                    return Err(format!(
                        "EventBridge refused {} events: {:?}",
                        refused.len(),
                        output
                            .entries()
                            .iter()
                            .filter_map(|r| r.error_message())
                            .collect::<Vec<_>>()
                    )
                    .into());
                }
                pending = refused;
                tokio::time::sleep(Duration::from_millis(100 * u64::from(round))).await;
            }
        }
        Ok(())
    }
}
