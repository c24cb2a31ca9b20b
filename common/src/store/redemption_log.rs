//! The redemption log's read path, for exports: a tenant's rows of one day,
//! spread over `LOG_SHARDS` partitions, merged back into time order.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::join_all;

use super::item::*;
use super::log_item::redemption_from;
use super::schema::*;
use super::transact::unavailable;
use super::{DynamoStore, StoreResult};
use crate::coupon::Redemption;
use crate::tenant::TenantId;

pub trait RedemptionLogStore: Send + Sync {
    /// One page of a tenant's redemptions on `day` (UTC) between `from` and
    /// `to` (both included), oldest first, and the cursor of the next page.
    fn redemption_page(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<String>,
    ) -> impl Future<Output = StoreResult<(Vec<Redemption>, Option<String>)>> + Send;
}

impl RedemptionLogStore for DynamoStore {
    async fn redemption_page(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<String>,
    ) -> StoreResult<(Vec<Redemption>, Option<String>)> {
        // Each shard is read from just after the last row already answered;
        // rows past the earliest point where a shard's page stopped wait for
        // the next page, so the merged pages come out in time order.
        let (from, to) = (redemption_sk(from, ""), redemption_sk(to, "~"));
        let pages = (0..LOG_SHARDS).map(|shard| {
            let pk = redemptions_pk(tenant, day, shard);
            let start = after
                .as_ref()
                .map(|sk| Item::from([(PK.to_owned(), s(&pk)), (SK.to_owned(), s(sk))]));
            self.client()
                .query()
                .table_name(self.table())
                .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(&pk))
                // Sort keys start with the time; "~" sorts after every id.
                .expression_attribute_values(":from", s(&from))
                .expression_attribute_values(":to", s(&to))
                .set_exclusive_start_key(start)
                .limit(self.log_page_rows())
                .send()
        });
        let mut rows = Vec::new();
        let mut horizon: Option<String> = None;
        for output in join_all(pages).await {
            let output = output.map_err(unavailable)?;
            rows.extend(output.items.unwrap_or_default());
            let stopped_at = output
                .last_evaluated_key
                .and_then(|key| key.get(SK).and_then(|v| v.as_s().ok()).cloned());
            if let Some(stopped_at) = stopped_at
                && horizon.as_ref().is_none_or(|h| stopped_at < *h)
            {
                horizon = Some(stopped_at);
            }
        }
        let sort_key = |item: &Item| item.get(SK).and_then(|v| v.as_s().ok()).cloned();
        if let Some(horizon) = &horizon {
            rows.retain(|item| sort_key(item).is_some_and(|sk| sk <= *horizon));
        }
        rows.sort_by_cached_key(sort_key);
        let rows = rows
            .iter()
            .map(redemption_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rows, horizon))
    }
}
