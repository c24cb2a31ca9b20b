//! The DynamoDB implementation of the store traits.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::cleanup::DeletedCoupon;
use super::item::*;
use super::redemptions::{ATTEMPTS, back_off};
use super::schema::*;
use super::{CouponStore, ExportStore, Page, StoreError, StoreResult, TenantStore};
use crate::code::CouponCode;
use crate::coupon::{Coupon, CouponPatch};
use crate::export::{ExportCursor, ExportRecord};
use crate::keyspace::Shape;
use crate::tenant::{Tenant, TenantId, TokenRecord};

/// Conditional puts in flight at once when inserting many coupons.
const PUTS_IN_FLIGHT: usize = 16;

/// Log rows one Query of one log shard reads: eight shards of a day side
/// by side stay a few megabytes in memory.
const LOG_PAGE_ROWS: i32 = 1_000;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    log_page_rows: i32,
}

pub(super) fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(e).to_string())
}

/// A failed write: known not to have happened when DynamoDB refused it
/// (throttling, validation) or it was never sent; otherwise (a timeout, a
/// dropped connection, an internal error, an unreadable answer) it may
/// have committed with its answer lost.
pub(super) fn write_failed<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let not_applied = match &e {
        SdkError::ConstructionFailure(_) => true,
        SdkError::ServiceError(service) => {
            !matches!(service.err().code(), None | Some("InternalServerError"))
        }
        _ => false,
    };
    if not_applied {
        unavailable(e)
    } else {
        StoreError::OutcomeUnknown(DisplayErrorContext(e).to_string())
    }
}

/// Whether a conditional write failed because its condition did not hold
/// (every DynamoDB write operation reports it with the same error code).
pub(super) fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            log_page_rows: LOG_PAGE_ROWS,
        }
    }

    /// Reads the redemption log `rows` to a Query (tests make it small, so
    /// a few rows take several pages).
    pub fn with_log_page_rows(mut self, rows: i32) -> DynamoStore {
        self.log_page_rows = rows.max(1);
        self
    }

    pub(super) fn log_page_rows(&self) -> i32 {
        self.log_page_rows
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub(super) async fn get(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    /// Every item of one GSI1 partition, optionally from one sort key on.
    pub(super) async fn query_gsi1(&self, pk: String, sk: Option<&str>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .expression_attribute_values(":pk", s(&pk))
                .set_exclusive_start_key(start);
            query = match sk {
                Some(sk) => query
                    .key_condition_expression("GSI1PK = :pk AND GSI1SK = :sk")
                    .expression_attribute_values(":sk", s(sk)),
                None => query.key_condition_expression("GSI1PK = :pk"),
            };
            let output = query.send().await.map_err(unavailable)?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Writes one coupon, with `extra` attributes, unless its code exists:
    /// `false` when it does.
    pub(super) async fn put_new_coupon(
        &self,
        tenant: &TenantId,
        coupon: &Coupon,
        extra: Item,
    ) -> StoreResult<bool> {
        if coupon.shards > 0 {
            return self.put_new_sharded(tenant, coupon, extra).await;
        }
        let mut item = coupon_item(tenant, coupon);
        item.extend(extra);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(write_failed(e)),
        }
    }

    /// Up to `limit` items of a GSI1 partition after `start`, and whether
    /// more follow: one extra item is read to know that for certain.
    async fn gsi1_page(
        &self,
        pk: String,
        limit: u32,
        start: Option<Item>,
        newest_first: bool,
    ) -> StoreResult<(Vec<Item>, bool)> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(!newest_first)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        let mut items = output.items.unwrap_or_default();
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        Ok((items, more))
    }

    /// Removes coupons this process just created and never showed anyone:
    /// the undo step when a create fails part-way.
    pub async fn discard_coupons(
        &self,
        tenant: &TenantId,
        codes: &[CouponCode],
    ) -> StoreResult<()> {
        let keys = codes
            .iter()
            .map(|code| (coupon_pk(tenant, code), COUPON_SK.to_owned()));
        self.delete_keys(keys.collect()).await
    }

    /// Deletes items by key, 25 to a batch, retrying what DynamoDB leaves unprocessed.
    pub(super) async fn delete_keys(&self, keys: Vec<(String, String)>) -> StoreResult<()> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|(pk, sk)| {
                    let delete = DeleteRequest::builder()
                        .key(PK, s(pk))
                        .key(SK, s(sk))
                        .build()
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<StoreResult<_>>()?;
            for _ in 0..5 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// One try at `update_coupon`: `None` when the coupon was re-created
    /// under its code in the meantime.
    async fn update_coupon_once(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        patch: &CouponPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Coupon>> {
        let (expression, values) = patch_expression(patch, now, true);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(coupon_pk(tenant, code)))
            .key(SK, s(COUPON_SK))
            .update_expression(&expression)
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(shards)")
            .set_expression_attribute_values(Some(values.clone()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let current = match result {
            Ok(output) => return coupon_from(&output.attributes.unwrap_or_default()).map(Some),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    c.item().map(coupon_from).transpose()?
                }
                _ => return Err(write_failed(e)),
            },
        };
        // A sharded coupon: its uses live in the shards, and its terms
        // change together with every shard's revision.
        let Some(current) = current else {
            return Err(StoreError::NotFound);
        };
        let (expression, values) = patch_expression(patch, now, false);
        if !self
            .update_sharded(tenant, &current, &expression, values, patch.uses_left)
            .await?
        {
            return Ok(None);
        }
        self.get_coupon(tenant, code).await
    }
}

impl CouponStore for DynamoStore {
    async fn insert_new_coupons(
        &self,
        tenant: &TenantId,
        coupons: &[Coupon],
        shape: Option<&str>,
    ) -> StoreResult<Vec<usize>> {
        let mut taken = Vec::new();
        let mut written = Vec::new();
        for (chunk_index, chunk) in coupons.chunks(PUTS_IN_FLIGHT).enumerate() {
            let puts = chunk.iter().map(|coupon| {
                let shape = shape.map(|shape| ("shape".to_owned(), s(shape)));
                self.put_new_coupon(tenant, coupon, shape.into_iter().collect())
            });
            let mut failure = None;
            for (i, result) in join_all(puts).await.into_iter().enumerate() {
                let index = chunk_index * PUTS_IN_FLIGHT + i;
                match result {
                    Ok(true) => written.push(coupons[index].code.clone()),
                    Ok(false) => taken.push(index),
                    Err(e) => failure = Some(e),
                }
            }
            if let Some(e) = failure {
                if let Err(undo) = self.discard_coupons(tenant, &written).await {
                    tracing::error!(error = %undo, count = written.len(), "could not remove a failed insert's coupons");
                }
                return Err(e);
            }
        }
        Ok(taken)
    }

    async fn get_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
    ) -> StoreResult<Option<Coupon>> {
        let Some(item) = self.get(coupon_pk(tenant, code), COUPON_SK).await? else {
            return Ok(None);
        };
        let mut coupon = [coupon_from(&item)?];
        self.add_shard_counts(tenant, &mut coupon).await?;
        let [coupon] = coupon;
        Ok(Some(coupon))
    }

    async fn list_coupons(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&CouponCode>,
    ) -> StoreResult<Page<Coupon>> {
        let start = after.map(|code| {
            Item::from([
                (PK.to_owned(), s(coupon_pk(tenant, code))),
                (SK.to_owned(), s(COUPON_SK)),
                (GSI1PK.to_owned(), s(coupons_gsi1pk(tenant))),
                (GSI1SK.to_owned(), s(code.as_str())),
            ])
        });
        let (items, more) = self
            .gsi1_page(coupons_gsi1pk(tenant), limit, start, false)
            .await?;
        let mut items = items
            .iter()
            .map(coupon_from)
            .collect::<StoreResult<Vec<_>>>()?;
        self.add_shard_counts(tenant, &mut items).await?;
        let next = more.then(|| items.last().map(|c| c.code.clone())).flatten();
        Ok(Page { items, next })
    }

    async fn update_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        patch: &CouponPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Coupon> {
        for _ in 0..2 {
            match self.update_coupon_once(tenant, code, patch, now).await? {
                Some(updated) => return Ok(updated),
                // Re-created under its code while this update ran: once more.
                None => continue,
            }
        }
        Err(StoreError::NotFound)
    }

    async fn delete_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        for attempt in 0..ATTEMPTS {
            let Some(item) = self.get(coupon_pk(tenant, code), COUPON_SK).await? else {
                return Err(StoreError::NotFound);
            };
            let coupon = coupon_from(&item)?;
            // The coupon read, not one created since under its code; its
            // shards go in the same write, so a consume that writes only a
            // shard fails its condition from this moment on.
            let delete = |pk: String, sk: &str, condition: Option<&str>| {
                let mut delete = Delete::builder()
                    .table_name(&self.table)
                    .key(PK, s(pk))
                    .key(SK, s(sk));
                if let Some(condition) = condition {
                    delete = delete
                        .condition_expression(condition)
                        .expression_attribute_values(":created_at", time(coupon.created_at));
                }
                let delete = delete
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok::<_, StoreError>(TransactWriteItem::builder().delete(delete).build())
            };
            let mut items = vec![delete(
                coupon_pk(tenant, code),
                COUPON_SK,
                Some("created_at = :created_at"),
            )?];
            for shard in 0..coupon.shards {
                items.push(delete(shard_pk(tenant, code, shard), SHARD_SK, None)?);
            }
            let leftovers = DeletedCoupon {
                tenant: tenant.clone(),
                code: code.clone(),
                created_at: coupon.created_at,
            };
            let token = uuid::Uuid::new_v4().to_string();
            let task_slot = items.len();
            items.push(leftovers.task(&self.table, &token, now)?);
            let shape = item.get("shape").and_then(|v| v.as_s().ok()).cloned();
            match self.transact(items, Some(&token)).await? {
                None => return Ok(shape),
                Some(cancelled) if cancelled.failed(Some(task_slot)).is_some() => {
                    let task = cancelled.failed(Some(task_slot)).flatten();
                    let by = task.and_then(|t| t.get("delete_id")?.as_s().ok());
                    // Our own task: an earlier try of this very transaction
                    // committed and only its answer was lost. Another's: a
                    // concurrent delete of the same coupon came first.
                    return match by {
                        Some(by) if *by == token => Ok(shape),
                        _ => Err(StoreError::NotFound),
                    };
                }
                // Deleted, or deleted and created again, since the read.
                Some(cancelled) if cancelled.failed(Some(0)).is_some() => continue,
                Some(cancelled) if cancelled.conflicted() => back_off(attempt).await,
                Some(cancelled) => return Err(cancelled.unexplained("delete")),
            }
        }
        Err(StoreError::Unavailable(
            "the coupon kept changing during delete".into(),
        ))
    }

    async fn reserve_live_codes(
        &self,
        tenant: &TenantId,
        shape: &Shape,
        quantity: u64,
    ) -> StoreResult<Result<(), u64>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(live_codes_pk(tenant, &shape.key)))
            .key(SK, s(LIVE_CODES_SK))
            .update_expression("ADD live :q")
            .condition_expression("attribute_not_exists(live) OR live <= :cap")
            .expression_attribute_values(":q", n(quantity))
            .expression_attribute_values(":cap", n(shape.max_live.saturating_sub(quantity)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_condition_failure(&e) => {
                let live = match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(c)) => c
                        .item()
                        .and_then(|old| old.get("live"))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse().ok()),
                    _ => None,
                };
                Ok(Err(live.unwrap_or(shape.max_live)))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_live_codes(
        &self,
        tenant: &TenantId,
        shape_key: &str,
        quantity: u64,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(live_codes_pk(tenant, shape_key)))
            .key(SK, s(LIVE_CODES_SK))
            .update_expression("ADD live :minus")
            // Never below zero: giving back more than is counted is a bug
            // elsewhere, and a count too high only makes the policy stricter.
            .condition_expression("live >= :quantity")
            .expression_attribute_values(":minus", AttributeValue::N(format!("-{quantity}")))
            .expression_attribute_values(":quantity", n(quantity))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                tracing::error!(
                    shape = shape_key,
                    quantity,
                    "live-code count lower than what is given back; left as it is"
                );
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

impl ExportStore for DynamoStore {
    async fn put_export(&self, tenant: &TenantId, record: &ExportRecord) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(export_item(tenant, record)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_exports(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&ExportCursor>,
    ) -> StoreResult<(Vec<ExportRecord>, Option<ExportCursor>)> {
        // The start key is built here from the cursor's parts, with the
        // caller's tenant, so a cursor never leaves the tenant.
        let start = after.map(|cursor| {
            Item::from([
                (PK.to_owned(), s(exports_pk(tenant))),
                (SK.to_owned(), s(&cursor.key)),
                (GSI1PK.to_owned(), s(exports_pk(tenant))),
                (GSI1SK.to_owned(), s(cursor.to_string())),
            ])
        });
        let (items, more) = self
            .gsi1_page(exports_pk(tenant), limit, start, true)
            .await?;
        let records = items
            .iter()
            .map(export_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = more.then(|| records.last().map(ExportCursor::of)).flatten();
        Ok((records, next))
    }
}

impl TenantStore for DynamoStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(tenant_item(tenant)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        self.get(tenant_pk(id), TENANT_SK)
            .await?
            .map(|item| tenant_from(&item))
            .transpose()
    }

    async fn update_tenant_limits(
        &self,
        id: &TenantId,
        rate_per_second: u32,
        burst: u32,
    ) -> StoreResult<Tenant> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(id)))
            .key(SK, s(TENANT_SK))
            .update_expression("SET rate_per_second = :rate, burst = :burst")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":rate", n(rate_per_second))
            .expression_attribute_values(":burst", n(burst))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => tenant_from(&output.attributes.unwrap_or_default()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::NotFound),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.query_gsi1(TENANTS_GSI1PK.to_owned(), None)
            .await?
            .iter()
            .map(tenant_from)
            .collect()
    }

    async fn insert_token(&self, record: &TokenRecord, hash: &str) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(token_item(record, hash)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn find_token(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        self.get(token_pk(hash), TOKEN_SK)
            .await?
            .map(|item| token_from(&item))
            .transpose()
    }

    async fn list_tokens(&self, tenant: &TenantId) -> StoreResult<Vec<TokenRecord>> {
        self.query_gsi1(tokens_gsi1pk(tenant), None)
            .await?
            .iter()
            .map(token_from)
            .collect()
    }

    async fn revoke_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let items = self
            .query_gsi1(tokens_gsi1pk(tenant), Some(token_id))
            .await?;
        let Some(pk) = items.first().and_then(|item| item.get(PK)).cloned() else {
            return Err(StoreError::NotFound);
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, pk)
            .key(SK, s(TOKEN_SK))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .expression_attribute_values(":now", time(now))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// The update of a coupon item for `patch`. A sharded coupon's
/// `uses_left` lives in its shards, not on the item (`counts_on_item`).
fn patch_expression(
    patch: &CouponPatch,
    now: DateTime<Utc>,
    counts_on_item: bool,
) -> (String, Item) {
    let mut set = vec!["updated_at = :now".to_owned()];
    let mut remove = Vec::new();
    let mut values = Item::from([(":now".to_owned(), time(now))]);
    let mut assign = |name: &str, value: Option<Option<AttributeValue>>| match value {
        None => {}
        Some(Some(value)) => {
            set.push(format!("{name} = :{name}"));
            values.insert(format!(":{name}"), value);
        }
        Some(None) => remove.push(name.to_owned()),
    };
    if counts_on_item {
        assign("uses_left", patch.uses_left.map(|v| Some(n(v))));
    }
    assign("product_id", patch.product_id.clone().map(|v| v.map(s)));
    assign("promo_type", patch.promo_type.clone().map(|v| v.map(s)));
    assign("currency", patch.currency.clone().map(|v| v.map(s)));
    assign("starts_at", patch.starts_at.map(|v| v.map(time)));
    assign("expires_at", patch.expires_at.map(|v| v.map(time)));
    assign(
        "min_order_amount",
        patch.min_order_amount.map(|v| v.map(|m| n(m.minor()))),
    );
    assign(
        "max_uses_per_customer",
        patch.max_uses_per_customer.map(|v| v.map(n)),
    );
    assign(
        "active",
        patch.active.map(|v| Some(AttributeValue::Bool(v))),
    );
    let discount = patch.discount.map(|d| d.map(discount_attrs));
    assign(
        "discount_type",
        discount.clone().map(|d| d.map(|(kind, _)| kind)),
    );
    assign(
        "discount_value",
        discount.map(|d| d.map(|(_, value)| value)),
    );

    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    (expression, values)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

    use super::*;

    fn service(code: &str) -> SdkError<TransactWriteItemsError, ()> {
        let error = TransactWriteItemsError::generic(ErrorMetadata::builder().code(code).build());
        SdkError::service_error(error, ())
    }

    #[test]
    fn a_write_whose_answer_was_lost_has_an_unknown_outcome() {
        let unknown = [
            SdkError::timeout_error("attempt timed out"),
            SdkError::response_error("unreadable answer", ()),
            service("InternalServerError"),
        ];
        for e in unknown {
            assert!(matches!(write_failed(e), StoreError::OutcomeUnknown(_)));
        }
        let refused = [
            SdkError::construction_failure("never sent"),
            service("ThrottlingException"),
            service("ProvisionedThroughputExceededException"),
        ];
        for e in refused {
            assert!(matches!(write_failed(e), StoreError::Unavailable(_)));
        }
    }
}
