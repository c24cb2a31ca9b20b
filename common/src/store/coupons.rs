//! Coupons: create (single and in bulk), read, list, change terms, delete.

use std::future::Future;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::cleanup::DeletedCoupon;
use super::coupon_index::CodeIndex;
use super::item::*;
use super::schema::*;
use super::shards::shard_key;
use super::transact::{ATTEMPTS, Attempts, is_condition_failure, write_failed};
use super::{DynamoStore, LiveCodeStore, Missing, Page, StoreError, StoreResult};
use crate::code::CouponCode;
use crate::coupon::{Coupon, CouponPatch};
use crate::invalid::Invalid;
use crate::tenant::TenantId;

/// Conditional puts in flight at once when inserting many coupons.
const PUTS_IN_FLIGHT: usize = 16;

pub trait CouponStore: Send + Sync {
    /// Writes each coupon whose code is free; a code that exists is never
    /// overwritten. Answers the indices of the coupons whose code was taken
    /// (those were not written). If a write fails, removes what this call
    /// wrote before answering the failure. `shape` marks generated codes with
    /// the keyspace they count against.
    fn insert_new_coupons(
        &self,
        tenant: &TenantId,
        coupons: &[Coupon],
        shape: Option<&str>,
    ) -> impl Future<Output = StoreResult<Vec<usize>>> + Send;
    fn get_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
    ) -> impl Future<Output = StoreResult<Option<Coupon>>> + Send;
    fn list_coupons(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&CouponCode>,
    ) -> impl Future<Output = StoreResult<Page<Coupon>>> + Send;
    /// A customer's personal codes, by code.
    fn list_customer_coupons(
        &self,
        tenant: &TenantId,
        customer: &str,
        limit: u32,
        after: Option<&CouponCode>,
    ) -> impl Future<Output = StoreResult<Page<Coupon>>> + Send;
    fn update_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        patch: &CouponPatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Coupon>> + Send;
    /// Deletes the coupon and its shards in one write, with a task for the
    /// worker to remove its customer counts and release its held
    /// reservations (see `cleanup`); answers the keyspace shape it counted
    /// against, if any.
    fn delete_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        by_job: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<String>>> + Send;
}

impl DynamoStore {
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
            .client()
            .put_item()
            .table_name(self.table())
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

    /// Deletes a coupon and gives its generated code's keyspace back: one
    /// code of `DELETE /coupon/{code}` or of a campaign's delete job. An
    /// over-count after a failure of the second step only makes the
    /// guessing policy stricter. `by_job` names the delete job, if any.
    pub async fn retire_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        by_job: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let Some(shape) = self.delete_coupon(tenant, code, by_job, now).await?
            && let Err(e) = self.release_live_codes(tenant, &shape, 1).await
        {
            tracing::warn!(error = %e, "could not give back a deleted code's live-code count");
        }
        Ok(())
    }

    /// Removes coupons this process just created and never showed anyone:
    /// the undo step when a create fails part-way.
    pub async fn discard_coupons(
        &self,
        tenant: &TenantId,
        codes: &[CouponCode],
    ) -> StoreResult<()> {
        let keys = codes.iter().map(|code| coupon_key(tenant, code));
        self.delete_keys(keys.collect()).await
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
        let mut condition = "attribute_exists(PK) AND attribute_not_exists(shards)".to_owned();
        if patch.changes_terms() {
            // A campaign code's terms are its campaign's.
            condition.push_str(" AND attribute_not_exists(campaign_id)");
        }
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(coupon_pk(tenant, code)))
            .key(SK, s(COUPON_SK))
            .update_expression(&expression)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values.clone()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let current = match result {
            Ok(output) => {
                let mut updated = [coupon_from(&output.attributes.unwrap_or_default())?];
                self.join_campaigns(tenant, &mut updated).await?;
                let [updated] = updated;
                return Ok(Some(updated));
            }
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
            return Err(StoreError::NotFound(Missing::Coupon));
        };
        if let Some(campaign) = current
            .campaign_id
            .as_ref()
            .filter(|_| patch.changes_terms())
        {
            return Err(StoreError::Invalid(Invalid(format!(
                "coupon {code} takes its terms from campaign {campaign}: change the campaign, \
                 or only availability_count and active here"
            ))));
        }
        let (expression, values) = patch_expression(patch, now, false);
        if !self
            .update_sharded(tenant, &current, &expression, values, patch.uses_left, now)
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
        self.join_campaigns(tenant, &mut coupon).await?;
        let [coupon] = coupon;
        Ok(Some(coupon))
    }

    async fn list_coupons(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&CouponCode>,
    ) -> StoreResult<Page<Coupon>> {
        let partition = coupons_gsi1pk(tenant);
        self.coupons_by_code(tenant, CodeIndex::GSI1, partition, limit, after)
            .await
    }

    async fn list_customer_coupons(
        &self,
        tenant: &TenantId,
        customer: &str,
        limit: u32,
        after: Option<&CouponCode>,
    ) -> StoreResult<Page<Coupon>> {
        let partition = owner_gsi3pk(tenant, customer);
        self.coupons_by_code(tenant, CodeIndex::GSI3, partition, limit, after)
            .await
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
        Err(StoreError::NotFound(Missing::Coupon))
    }

    async fn delete_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        by_job: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let Some(item) = self.get(coupon_pk(tenant, code), COUPON_SK).await? else {
                return Err(StoreError::NotFound(Missing::Coupon));
            };
            let coupon = coupon_from(&item)?;
            let shape = item.get("shape").and_then(|v| v.as_s().ok()).cloned();
            // The coupon read, not one created since under its code; its
            // shards go in the same write, so a consume that writes only a
            // shard fails its condition from this moment on.
            let mut tx = self.transaction();
            let coupon_slot = tx.delete(
                coupon_key(tenant, code),
                Some("created_at = :created_at"),
                Item::from([(":created_at".into(), time(coupon.created_at))]),
            )?;
            for shard in 0..coupon.shards {
                tx.delete(shard_key(tenant, code, shard), None, Item::new())?;
            }
            // Counted out of its campaign in the same write: a campaign
            // without codes may be deleted.
            if let Some(campaign) = &coupon.campaign_id {
                tx.update(
                    (campaign_pk(tenant, campaign), CAMPAIGN_SK.to_owned()),
                    "ADD coupon_count :minus_one",
                    "coupon_count >= :one",
                    &[],
                    Item::from([(":minus_one".into(), n(-1)), (":one".into(), n(1))]),
                )?;
            }
            let leftovers = DeletedCoupon {
                tenant: tenant.clone(),
                code: code.clone(),
                created_at: coupon.created_at,
            };
            let token = uuid::Uuid::new_v4().to_string();
            let task = leftovers.task(&mut tx, &token, by_job, now)?;
            let Some(cancelled) = self.transact(tx, Some(&token)).await? else {
                return Ok(shape);
            };
            if let Some(task) = cancelled.failed(task) {
                let by = task.and_then(|t| t.get("delete_id")?.as_s().ok());
                // Our own task: an earlier try of this very transaction
                // committed and only its answer was lost. Another's: a
                // concurrent delete of the same coupon came first.
                return match by {
                    Some(by) if *by == token => Ok(shape),
                    _ => Err(StoreError::NotFound(Missing::Coupon)),
                };
            }
            if cancelled.refused(coupon_slot) {
                // Deleted, or deleted and created again, since the read.
                continue;
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("delete"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("delete"))
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
    assign("metadata", patch.metadata.as_ref().map(metadata_attr));
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
