//! The redemption log's query path (`GET /redemptions`): one Query per
//! shard of the index built for the question (by code, customer or
//! campaign; by day when only time narrows it), merged newest first. What
//! the index does not narrow is a filter on those Queries, which read at
//! most a page per shard whatever the filter keeps: such a page may come
//! back short, with `next` saying where to go on.

use std::future::Future;

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use futures_util::future::join_all;

use super::item::*;
use super::log_item::redemption_from;
use super::schema::*;
use super::transact::unavailable;
use super::{DynamoStore, StoreResult};
use crate::coupon::{Redemption, RedemptionKind};
use crate::ledger::{LedgerCursor, LedgerQuery};
use crate::tenant::TenantId;

/// Days of the log one page reads at most when only time narrows it: a
/// range of empty days costs a page per month, not one long request.
const DAYS_PER_PAGE: u64 = 31;

#[derive(Debug)]
pub struct LedgerPage {
    pub rows: Vec<Redemption>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<LedgerCursor>,
}

pub trait LedgerStore: Send + Sync {
    /// One page of the tenant's log for `query`, newest first.
    fn ledger_page(
        &self,
        tenant: &TenantId,
        query: &LedgerQuery,
    ) -> impl Future<Output = StoreResult<LedgerPage>> + Send;

    /// One row of the log (a consume or a reversal), by its id.
    fn ledger_entry(
        &self,
        tenant: &TenantId,
        redemption_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Redemption>>> + Send;
}

/// Where a Query reads: the table or an index, by the names of its keys.
#[derive(Clone, Copy)]
struct Keys {
    index: Option<&'static str>,
    pk: &'static str,
    sk: &'static str,
}

/// A filter expression for what the index chosen does not narrow.
#[derive(Default)]
struct Filter {
    conditions: Vec<&'static str>,
    names: Vec<(&'static str, &'static str)>,
    values: Item,
}

/// The rows of one read of several partitions, newest first: all those at
/// or above `horizon`, the highest point where a partition's page stopped
/// (below it, that partition's rows are still unread).
struct Merged {
    rows: Vec<Item>,
    horizon: Option<String>,
    /// The sort key's attribute.
    sk: &'static str,
}

/// One partition's read: the rows it kept, and where its page stopped
/// (the last key it evaluated), if it did.
type Read = (Vec<Item>, Option<String>);

impl LedgerStore for DynamoStore {
    async fn ledger_page(&self, tenant: &TenantId, query: &LedgerQuery) -> StoreResult<LedgerPage> {
        let (index, filter) = plan(query);
        let low = redemption_sk(query.from, "");
        let high = match &query.before {
            Some(cursor) => {
                redemption_sk(cursor.at, cursor.id_part()).min(redemption_sk(query.to, "~"))
            }
            None => redemption_sk(query.to, "~"),
        };
        let limit = query.limit as usize;
        let Some(index) = index else {
            return self.by_day(tenant, query, &low, high, &filter).await;
        };
        let (name, pk, sk) = index.index();
        let keys = Keys {
            index: Some(name),
            pk,
            sk,
        };
        let pks = (0..LOG_SHARDS)
            .map(|shard| index.pk(tenant, shard))
            .collect();
        let merged = self
            .newest_of(keys, pks, &low, &high, &filter, limit)
            .await?;
        page_of(merged, limit)
    }

    async fn ledger_entry(
        &self,
        tenant: &TenantId,
        redemption_id: &str,
    ) -> StoreResult<Option<Redemption>> {
        let Some(at) = Redemption::time_of_id(redemption_id) else {
            return Ok(None);
        };
        let (pk, sk) = redemption_key(tenant, at, redemption_id);
        self.get(pk, &sk)
            .await?
            .as_ref()
            .map(redemption_from)
            .transpose()
    }
}

impl DynamoStore {
    /// Only time narrows the query: the table's day partitions, newest day
    /// first, at most `DAYS_PER_PAGE` of them.
    async fn by_day(
        &self,
        tenant: &TenantId,
        query: &LedgerQuery,
        low: &str,
        mut high: String,
        filter: &Filter,
    ) -> StoreResult<LedgerPage> {
        let keys = Keys {
            index: None,
            pk: PK,
            sk: SK,
        };
        let limit = query.limit as usize;
        let first = query
            .before
            .as_ref()
            .map_or(query.to, |cursor| cursor.at.min(query.to))
            .date_naive();
        let mut rows = Vec::new();
        let mut day = first;
        for _ in 0..DAYS_PER_PAGE {
            if day < query.from.date_naive() {
                break;
            }
            let pks = (0..LOG_SHARDS)
                .map(|shard| redemptions_pk(tenant, day, shard))
                .collect();
            let wanted = limit - rows.len();
            let merged = self
                .newest_of(keys, pks, low, &high, filter, wanted)
                .await?;
            if merged.horizon.is_some() || merged.rows.len() >= wanted {
                let page = page_of(merged, wanted)?;
                rows.extend(page.rows);
                // This day is read to its start: earlier days may hold more.
                let earlier = day
                    .checked_sub_days(Days::new(1))
                    .filter(|earlier| *earlier >= query.from.date_naive())
                    .map(|earlier| LedgerCursor {
                        at: end_of(earlier),
                        id: None,
                    });
                return Ok(LedgerPage {
                    rows,
                    next: page.next.or(earlier),
                });
            }
            rows.extend(
                merged
                    .rows
                    .iter()
                    .map(redemption_from)
                    .collect::<StoreResult<Vec<_>>>()?,
            );
            let Some(before) = day.checked_sub_days(Days::new(1)) else {
                break;
            };
            day = before;
            high = redemption_sk(end_of(day), "~");
        }
        // Stopped by the walk's length, not the range: go on from the day
        // not read yet.
        let next = (day >= query.from.date_naive() && day < first).then(|| LedgerCursor {
            at: end_of(day),
            id: None,
        });
        Ok(LedgerPage { rows, next })
    }

    /// Reads each partition in `pks` from `high` (excluded: the row a
    /// cursor names) down to `low`, `limit` rows past the filter at most
    /// per partition, and merges them newest first.
    async fn newest_of(
        &self,
        keys: Keys,
        pks: Vec<String>,
        low: &str,
        high: &str,
        filter: &Filter,
        limit: usize,
    ) -> StoreResult<Merged> {
        let condition = "#pk = :pk AND #sk BETWEEN :low AND :high";
        let filter_expression =
            (!filter.conditions.is_empty()).then(|| filter.conditions.join(" AND "));
        let reads = pks.into_iter().map(|pk| {
            let mut read = self
                .client()
                .query()
                .table_name(self.table())
                .set_index_name(keys.index.map(str::to_owned))
                .key_condition_expression(condition)
                .expression_attribute_names("#pk", keys.pk)
                .expression_attribute_names("#sk", keys.sk)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":low", s(low))
                .expression_attribute_values(":high", s(high))
                .set_filter_expression(filter_expression.clone())
                .scan_index_forward(false)
                // One more: the row `high` names is read and dropped.
                .limit(limit as i32 + 1);
            for (placeholder, name) in &filter.names {
                read = read.expression_attribute_names(*placeholder, *name);
            }
            for (placeholder, value) in &filter.values {
                read = read.expression_attribute_values(placeholder, value.clone());
            }
            read.send()
        });
        let mut done = Vec::new();
        for output in join_all(reads).await {
            let output = output.map_err(unavailable)?;
            let stopped_at = output
                .last_evaluated_key
                .and_then(|key| get_s(&key, keys.sk).map(str::to_owned));
            done.push((output.items.unwrap_or_default(), stopped_at));
        }
        Ok(merge(done, keys.sk, high))
    }
}

/// The partitions' rows newest first, without the row at `high` (the one a
/// cursor names) and without those below the horizon: a row there may have
/// newer ones in a partition not read that far yet.
fn merge(reads: Vec<Read>, sk: &'static str, high: &str) -> Merged {
    let horizon = reads
        .iter()
        .filter_map(|(_, stopped)| stopped.clone())
        .max();
    let sort_key = |item: &Item| get_s(item, sk).map(str::to_owned);
    let mut rows: Vec<Item> = reads.into_iter().flat_map(|(rows, _)| rows).collect();
    rows.retain(|item| {
        sort_key(item)
            .is_some_and(|key| key.as_str() != high && horizon.as_ref().is_none_or(|h| key >= *h))
    });
    rows.sort_by_cached_key(|item| std::cmp::Reverse(sort_key(item)));
    Merged { rows, horizon, sk }
}

/// How many of `merged`'s rows a page of `limit` takes, and the sort key
/// the next page starts below: the last row taken when more were read, the
/// horizon when a partition stopped early, none when all were read.
fn cut(merged: &Merged, limit: usize) -> (usize, Option<String>) {
    let taken = merged.rows.len().min(limit);
    let last = taken
        .checked_sub(1)
        .and_then(|i| get_s(&merged.rows[i], merged.sk))
        .map(str::to_owned);
    let next = if merged.rows.len() > limit || (merged.horizon.is_some() && taken == limit) {
        last
    } else {
        merged.horizon.clone()
    };
    (taken, next)
}

fn page_of(merged: Merged, limit: usize) -> StoreResult<LedgerPage> {
    let (taken, next) = cut(&merged, limit);
    let rows = merged.rows[..taken]
        .iter()
        .map(redemption_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(LedgerPage {
        rows,
        next: next.as_deref().and_then(cursor_at),
    })
}

/// The cursor whose sort key is `sk` (`{time}#{id}`).
fn cursor_at(sk: &str) -> Option<LedgerCursor> {
    let (time, id) = sk.split_once('#')?;
    let at = DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc);
    Some(LedgerCursor {
        at,
        id: Some(id.to_owned()),
    })
}

/// The last millisecond of `day`.
fn end_of(day: chrono::NaiveDate) -> DateTime<Utc> {
    let start = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN));
    start + chrono::Duration::days(1) - chrono::Duration::milliseconds(1)
}

/// The index for `query` (the most selective it names) and the filter for
/// the rest.
fn plan(query: &LedgerQuery) -> (Option<LogIndex>, Filter) {
    let mut filter = Filter::default();
    let index = if let Some(code) = &query.code {
        Some(LogIndex::Code(code.clone()))
    } else if let Some(customer) = &query.customer_id {
        Some(LogIndex::Customer(customer.clone()))
    } else {
        query.campaign_id.clone().map(LogIndex::Campaign)
    };
    // The index narrows by code, else customer, else campaign; a filter
    // narrows by what it did not.
    if let Some(customer) = query.customer_id.as_ref().filter(|_| query.code.is_some()) {
        filter.conditions.push("#customer_id = :customer_id");
        filter.names.push(("#customer_id", "customer_id"));
        filter.values.insert(":customer_id".into(), s(customer));
    }
    let by_campaign = query.code.is_none() && query.customer_id.is_none();
    if let Some(campaign) = query.campaign_id.as_ref().filter(|_| !by_campaign) {
        filter.conditions.push("#campaign_id = :campaign_id");
        filter.names.push(("#campaign_id", "campaign_id"));
        filter
            .values
            .insert(":campaign_id".into(), s(campaign.as_str()));
    }
    if let Some(kind) = query.kind {
        // Rows written before reversals existed have no kind: consumes.
        filter.conditions.push(match kind {
            RedemptionKind::Consume => "(attribute_not_exists(#kind) OR #kind = :kind)",
            RedemptionKind::Reversal => "#kind = :kind",
        });
        filter.names.push(("#kind", "kind"));
        filter.values.insert(":kind".into(), s(kind.as_str()));
    }
    (index, filter)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One partition read as DynamoDB reads it, newest first: `limit`
    /// items evaluated at most (at or below `high`), the filter applied to
    /// those, and the last key evaluated when the limit was reached.
    fn read(partition: &[(String, bool)], high: &str, limit: usize) -> Read {
        let evaluated: Vec<_> = partition
            .iter()
            .filter(|(key, _)| key.as_str() <= high)
            .take(limit)
            .collect();
        let kept = evaluated
            .iter()
            .filter(|(_, matches)| *matches)
            .map(|(key, _)| Item::from([(SK.to_owned(), s(key))]))
            .collect();
        let stopped = (evaluated.len() == limit).then(|| evaluated[limit - 1].0.clone());
        (kept, stopped)
    }

    proptest! {
        /// Paged through with a filter that keeps some rows and not others,
        /// partitions of any sizes give every kept row once, newest first.
        #[test]
        fn pages_of_merged_partitions_hold_every_kept_row_once_in_order(
            rows in proptest::collection::btree_map(0u32..100_000, (0usize..8, any::<bool>()), 0..120),
            limit in 1usize..6,
        ) {
            let mut partitions = vec![Vec::new(); 8];
            for (key, (partition, matches)) in &rows {
                partitions[*partition].push((format!("{key:06}"), *matches));
            }
            for partition in &mut partitions {
                partition.sort_unstable_by(|a, b| b.cmp(a));
            }
            let mut high = "~".to_owned();
            let mut seen = Vec::new();
            for _ in 0..1_000 {
                let reads = partitions.iter().map(|p| read(p, &high, limit + 1)).collect();
                let merged = merge(reads, SK, &high);
                let (taken, next) = cut(&merged, limit);
                seen.extend(merged.rows[..taken].iter().map(|item| get_s(item, SK).unwrap().to_owned()));
                match next {
                    Some(next) => high = next,
                    None => break,
                }
            }
            let expected: Vec<String> = rows
                .iter()
                .rev()
                .filter(|(_, (_, matches))| *matches)
                .map(|(key, _)| format!("{key:06}"))
                .collect();
            prop_assert_eq!(seen, expected);
        }
    }
}
