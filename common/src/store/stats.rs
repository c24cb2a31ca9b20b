//! A tenant's daily figures: one item a UTC day, added to by the events
//! function from the stream's log rows (`DayStats::of_row`).
//!
//! Lambda may hand a stream batch over more than once, so each row is
//! added in the same `TransactWriteItems` that writes its event's marker,
//! on the condition that the marker is new: a row is counted exactly when
//! its event is marked, however often it is read. The additions are
//! `ADD`s, never a read and a write back.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use super::item::*;
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, Slot, Transaction, unavailable};
use super::{DynamoStore, StoreError, StoreResult};
use crate::event::Event;
use crate::stats::{DayRange, DayStats};
use crate::tenant::TenantId;

const STATS_TYPE: &str = "day_stats";
/// Events a transaction marks: each adds one marker and at most one
/// day's update, so 50 stay within `TransactWriteItems`' 100 writes.
const EVENTS_PER_TRANSACTION: usize = 50;

pub trait StatsStore: Send + Sync {
    /// Marks `events` handed on and adds each one's figures to its day,
    /// skipping events already marked.
    fn mark_and_count(
        &self,
        events: &[(&Event, &DayStats)],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The tenant's figures for each day of `range` that has any.
    fn day_stats(
        &self,
        tenant: &TenantId,
        range: DayRange,
    ) -> impl Future<Output = StoreResult<BTreeMap<NaiveDate, DayStats>>> + Send;
}

impl StatsStore for DynamoStore {
    async fn mark_and_count(
        &self,
        events: &[(&Event, &DayStats)],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        for chunk in events.chunks(EVENTS_PER_TRANSACTION) {
            self.mark_and_count_chunk(chunk.to_vec(), now).await?;
        }
        Ok(())
    }

    async fn day_stats(
        &self,
        tenant: &TenantId,
        range: DayRange,
    ) -> StoreResult<BTreeMap<NaiveDate, DayStats>> {
        let mut days = BTreeMap::new();
        let mut start = None;
        loop {
            let output = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(stats_pk(tenant)))
                .expression_attribute_values(":from", s(stats_sk(range.from)))
                .expression_attribute_values(":to", s(stats_sk(range.to)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in output.items() {
                let (day, stats) = day_stats_from(item)?;
                days.insert(day, stats);
            }
            match output.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => return Ok(days),
            }
        }
    }
}

impl DynamoStore {
    async fn mark_and_count_chunk(
        &self,
        mut events: Vec<(&Event, &DayStats)>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            if events.is_empty() {
                return Ok(());
            }
            let mut tx = self.transaction();
            let mut markers: Vec<Slot> = Vec::with_capacity(events.len());
            for (event, _) in &events {
                markers.push(tx.put(
                    event_marker_item(event, now),
                    Some("attribute_not_exists(PK)"),
                    Item::new(),
                )?);
            }
            let mut days: HashMap<(&TenantId, NaiveDate), DayStats> = HashMap::new();
            for (event, stats) in &events {
                let day = event.created_at.date_naive();
                days.entry((&event.tenant, day)).or_default().add(stats);
            }
            for ((tenant, day), stats) in &days {
                add_to_day(&mut tx, tenant, *day, stats)?;
            }
            // A lost answer is retried like a conflict: the markers'
            // conditions keep a committed attempt from counting twice.
            let cancelled = match tx.commit(self.client(), None).await {
                Ok(None) => return Ok(()),
                Ok(Some(cancelled)) => Some(cancelled),
                Err(StoreError::OutcomeUnknown(_)) => None,
                Err(e) => return Err(e),
            };
            if let Some(cancelled) = cancelled {
                let refused: Vec<bool> = markers.iter().map(|m| cancelled.refused(*m)).collect();
                if refused.contains(&true) {
                    // Marked (and counted) already, by an attempt whose
                    // answer was lost or by another instance handed the
                    // same batch: the rest still need counting.
                    let mut refused = refused.into_iter();
                    events.retain(|_| !refused.next().unwrap_or(false));
                    continue;
                }
                if !cancelled.conflicted() {
                    return Err(cancelled.unexplained("counting events"));
                }
            }
            attempts.back_off().await;
        }
        if events.is_empty() {
            return Ok(());
        }
        Err(Attempts::spent("counting events"))
    }
}

/// Adds `stats` to the tenant's item for `day`, creating it if needed.
fn add_to_day(
    tx: &mut Transaction,
    tenant: &TenantId,
    day: NaiveDate,
    stats: &DayStats,
) -> StoreResult<Slot> {
    let mut adds = vec![
        "redemptions :redemptions".to_owned(),
        "reversals :reversals".to_owned(),
    ];
    let mut names: Vec<(String, String)> = Vec::new();
    let mut values = Item::from([
        (":type".into(), s(STATS_TYPE)),
        (":redemptions".into(), n(stats.redemptions)),
        (":reversals".into(), n(stats.reversals)),
    ]);
    for (i, (currency, amount)) in stats.discount.iter().enumerate() {
        for (field, minor) in [("given", amount.given), ("reversed", amount.reversed)] {
            if minor == 0 {
                continue;
            }
            let placeholder = format!("{field}{i}");
            adds.push(format!("#{placeholder} :{placeholder}"));
            names.push((format!("#{placeholder}"), format!("{field}_{currency}")));
            values.insert(format!(":{placeholder}"), n(minor));
        }
    }
    let names: Vec<(&str, &str)> = names
        .iter()
        .map(|(placeholder, name)| (placeholder.as_str(), name.as_str()))
        .chain([("#type", "type")])
        .collect();
    tx.update(
        (stats_pk(tenant), stats_sk(day)),
        &format!("SET #type = :type ADD {}", adds.join(", ")),
        "attribute_not_exists(PK) OR #type = :type",
        &names,
        values,
    )
}

fn day_stats_from(item: &Item) -> Result<(NaiveDate, DayStats), StoreError> {
    let day = get_s(item, SK)
        .and_then(|sk| sk.strip_prefix("DAY#"))
        .and_then(|d| d.parse().ok());
    let day = req(item, day, "day")?;
    let mut stats = DayStats {
        redemptions: get_n(item, "redemptions").unwrap_or(0),
        reversals: get_n(item, "reversals").unwrap_or(0),
        ..DayStats::default()
    };
    for name in item.keys() {
        let (field, currency) = match name.split_once('_') {
            Some((field @ ("given" | "reversed"), currency)) => (field, currency),
            _ => continue,
        };
        let minor: u64 = get_n(item, name).ok_or_else(|| corrupt(item, name))?;
        let sum = stats.discount.entry(currency.to_owned()).or_default();
        match field {
            "given" => sum.given = minor,
            _ => sum.reversed = minor,
        }
    }
    Ok((day, stats))
}
