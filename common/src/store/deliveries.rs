//! What the events pipeline remembers: each event handed on (so a stream
//! batch read again hands nothing on twice) and each delivery attempt of a
//! webhook (for `GET /webhooks/{id}/deliveries`). Both expire by TTL.

use std::collections::HashSet;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};

use super::item::*;
use super::schema::*;
use super::stats::StatsStore;
use super::transact::unavailable;
use super::{DynamoStore, Page, StoreResult};
use crate::event::Event;
use crate::stats::DayStats;
use crate::tenant::TenantId;
use crate::webhook::{Delivery, WebhookId};

/// How long delivery attempts are listed.
const DELIVERY_TTL: Duration = Duration::days(30);

pub trait DeliveryStore: Send + Sync {
    /// The ids among `events` that were handed on already.
    fn events_handed_on(
        &self,
        events: &[Event],
    ) -> impl Future<Output = StoreResult<HashSet<String>>> + Send;
    /// Remembers that `events` were handed on.
    fn mark_handed_on(
        &self,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn record_delivery(
        &self,
        tenant: &TenantId,
        hook: &WebhookId,
        delivery: &Delivery,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// A webhook's delivery attempts, newest first; `after` is the previous
    /// page's cursor.
    fn list_deliveries(
        &self,
        tenant: &TenantId,
        hook: &WebhookId,
        limit: u32,
        after: Option<&str>,
    ) -> impl Future<Output = StoreResult<Page<Delivery, String>>> + Send;
}

impl DeliveryStore for DynamoStore {
    async fn events_handed_on(&self, events: &[Event]) -> StoreResult<HashSet<String>> {
        let keys = events
            .iter()
            .map(|e| {
                (
                    event_marker_pk(&e.tenant, &e.id),
                    EVENT_MARKER_SK.to_owned(),
                )
            })
            .collect();
        let found = self.get_many(keys).await?;
        Ok(events
            .iter()
            .filter(|e| found.contains_key(&event_marker_pk(&e.tenant, &e.id)))
            .map(|e| e.id.clone())
            .collect())
    }

    async fn mark_handed_on(&self, events: &[Event], now: DateTime<Utc>) -> StoreResult<()> {
        let counted: Vec<(&Event, &DayStats)> = events
            .iter()
            .filter_map(|e| Some((e, e.stats.as_ref()?)))
            .collect();
        self.mark_and_count(&counted, now).await?;
        let plain = events.iter().filter(|e| e.stats.is_none());
        self.put_items(plain.map(|e| event_marker_item(e, now)).collect())
            .await
    }

    async fn record_delivery(
        &self,
        tenant: &TenantId,
        hook: &WebhookId,
        delivery: &Delivery,
    ) -> StoreResult<()> {
        let mut item = Item::from([
            (PK.into(), s(deliveries_pk(tenant, hook))),
            (SK.into(), s(delivery_sk(delivery))),
            ("type".into(), s("webhook_delivery")),
            ("event_id".into(), s(&delivery.event_id)),
            ("event_type".into(), s(&delivery.event_type)),
            ("attempt".into(), n(delivery.attempt)),
            ("attempted_at".into(), time(delivery.attempted_at)),
            ("duration_ms".into(), n(delivery.duration_ms)),
            (
                EXPIRES_TTL.into(),
                n((delivery.attempted_at + DELIVERY_TTL).timestamp()),
            ),
        ]);
        insert_optional(&mut item, "status_code", delivery.status_code.map(n));
        insert_optional(&mut item, "error", delivery.error.clone().map(s));
        insert_optional(
            &mut item,
            "next_attempt_at",
            delivery.next_attempt_at.map(time),
        );
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        hook: &WebhookId,
        limit: u32,
        after: Option<&str>,
    ) -> StoreResult<Page<Delivery, String>> {
        let pk = deliveries_pk(tenant, hook);
        // The cursor is a sort key of this partition; the partition key is
        // the caller's own, so it never reaches another tenant's.
        let start = after.map(|sk| Item::from([(PK.into(), s(&pk)), (SK.into(), s(sk))]));
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .scan_index_forward(false)
            .limit(limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let items = output.items();
        let next = output
            .last_evaluated_key()
            .and_then(|key| get_s(key, SK))
            .map(str::to_owned);
        Ok(Page {
            items: items
                .iter()
                .map(delivery_from)
                .collect::<StoreResult<_>>()?,
            next,
        })
    }
}

/// Newest first by time; the event id and attempt keep two attempts in the
/// same millisecond apart.
fn delivery_sk(delivery: &Delivery) -> String {
    format!(
        "{:013}#{}#{:03}",
        delivery.attempted_at.timestamp_millis(),
        delivery.event_id,
        delivery.attempt
    )
}

/// Whether `text` could be a delivery cursor (`delivery_sk`'s shape).
pub fn is_delivery_cursor(text: &str) -> bool {
    let mut parts = text.split('#');
    let digits = |p: Option<&str>, len: usize| {
        p.is_some_and(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
    };
    digits(parts.next(), 13)
        && parts
            .next()
            .is_some_and(|id| id.starts_with("evt_") && id.len() <= 40)
        && digits(parts.next(), 3)
        && parts.next().is_none()
}

fn delivery_from(item: &Item) -> StoreResult<Delivery> {
    Ok(Delivery {
        event_id: req(item, get_s(item, "event_id"), "event_id")?.to_owned(),
        event_type: req(item, get_s(item, "event_type"), "event_type")?.to_owned(),
        attempt: req(item, get_n(item, "attempt"), "attempt")?,
        attempted_at: req_time(item, "attempted_at")?,
        status_code: get_n(item, "status_code"),
        error: get_s(item, "error").map(str::to_owned),
        duration_ms: get_n(item, "duration_ms").unwrap_or(0),
        next_attempt_at: get_time(item, "next_attempt_at"),
    })
}
