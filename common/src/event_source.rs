//! Events from the table's stream: each committed change that clients hear
//! about becomes one event, with an id that the same change always gets
//! (`Event::new`), however often the stream hands it over.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::event::{Event, EventType};
use crate::redemption::{Redemption, RedemptionKind};
use crate::stats::DayStats;
use crate::store::{DynamoStore, StoreError, StoreResult, StreamChange};
use crate::views::{
    CouponView, DeletedCouponView, ExhaustedCouponView, JobView, RedemptionView, WrittenExportView,
};

/// The events a batch of stream records (Lambda's `Records`) holds, in
/// stream order, each once.
pub async fn events_of(store: &DynamoStore, records: &[Value]) -> StoreResult<Vec<Event>> {
    let mut events: Vec<Event> = Vec::new();
    for record in records {
        let Some(change) = StreamChange::of(record)? else {
            continue;
        };
        if let Some(event) = event_of(store, change).await?
            && !events.iter().any(|e| e.id == event.id)
        {
            events.push(event);
        }
    }
    Ok(events)
}

async fn event_of(store: &DynamoStore, change: StreamChange) -> StoreResult<Option<Event>> {
    let mut stats = None;
    let (tenant, kind, subject, at, data) = match change {
        StreamChange::Logged(tenant, row) => {
            stats = Some(DayStats::of_row(&row));
            let kind = match row.kind {
                RedemptionKind::Consume => EventType::RedemptionSucceeded,
                RedemptionKind::Reversal => EventType::RedemptionRolledBack,
            };
            let data = json(RedemptionView::logged(&row))?;
            (
                tenant,
                kind,
                row.redemption_id.clone(),
                row.consumed_at,
                data,
            )
        }
        StreamChange::CouponCreated(tenant, coupon) => {
            let data = json(CouponView::of(&coupon))?;
            let subject = made(coupon.code.as_str(), coupon.created_at);
            (
                tenant,
                EventType::CouponCreated,
                subject,
                coupon.created_at,
                data,
            )
        }
        StreamChange::CouponDeleted { deleted, at } => {
            let data = json(DeletedCouponView::of(&deleted.code, deleted.created_at, at))?;
            let subject = made(deleted.code.as_str(), deleted.created_at);
            (deleted.tenant, EventType::CouponDeleted, subject, at, data)
        }
        StreamChange::CouponEmptied {
            tenant,
            code,
            created_at,
            redemption_id,
            at,
        } => {
            let data = json(ExhaustedCouponView::of(&code, created_at, &redemption_id))?;
            (tenant, EventType::CouponExhausted, redemption_id, at, data)
        }
        StreamChange::ShardEmptied {
            tenant,
            code,
            created_at,
        } => {
            let Some(redemption_id) = store.sharded_exhaustion(&tenant, &code, created_at).await?
            else {
                return Ok(None);
            };
            let at = Redemption::time_of_id(&redemption_id).unwrap_or(created_at);
            let data = json(ExhaustedCouponView::of(&code, created_at, &redemption_id))?;
            (tenant, EventType::CouponExhausted, redemption_id, at, data)
        }
        StreamChange::JobFinished(tenant, job) => {
            let at = job.completed_at.unwrap_or(job.updated_at);
            let data = json(JobView::of(&job))?;
            (
                tenant,
                EventType::JobCompleted,
                job.job_id.clone(),
                at,
                data,
            )
        }
        StreamChange::ExportWritten(tenant, record) => {
            let data = json(WrittenExportView::of(&record))?;
            let subject = made(&record.key, record.created_at);
            (
                tenant,
                EventType::ExportCompleted,
                subject,
                record.created_at,
                data,
            )
        }
    };
    let event = Event::new(&tenant, kind, &subject, at, data);
    Ok(Some(Event { stats, ..event }))
}

/// A thing made under a name that may be made again (a coupon's code, an
/// export's key): the name and when this one was made.
fn made(name: &str, at: DateTime<Utc>) -> String {
    format!("{name}@{}", at.timestamp_millis())
}

fn json(view: impl Serialize) -> StoreResult<Value> {
    serde_json::to_value(view).map_err(|e| StoreError::Unavailable(format!("event data: {e}")))
}
