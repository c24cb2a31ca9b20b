//! What a deleted coupon leaves behind: its customers' counts and its held
//! reservations. `DELETE /coupon/{code}` removes the coupon and its shards
//! in one transaction that also writes a clean-up task; the coupon-jobs
//! worker (on the table's stream, and on its schedule for anything missed)
//! works each task off. Every step finds what is left and removes it, so a
//! run that stops part-way is resumed by the next.
//!
//! Nothing here is needed for correctness: a later coupon under the same
//! code counts its customers under keys of its own, and a reservation of
//! the deleted coupon can no longer be converted or give a use back.

use chrono::{DateTime, Utc};

use super::item::*;
use super::release::ReleaseStore;
use super::schema::*;
use super::transact::{Slot, Transaction, unavailable};
use super::{DynamoStore, StoreResult};
use crate::code::CouponCode;
use crate::coupon::ReservationState;
use crate::tenant::TenantId;

/// A deleted coupon whose leftovers wait to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedCoupon {
    pub tenant: TenantId,
    pub code: CouponCode,
    /// The coupon's `created_at`: which incarnation of the code it was.
    pub created_at: DateTime<Utc>,
}

impl DeletedCoupon {
    /// Puts the task item in the delete's transaction; `delete_id` names
    /// the transaction that writes it.
    /// `by_job` names the campaign delete job that deleted the coupon (its
    /// codes get one `job.completed` event, not a `coupon.deleted` each).
    pub(super) fn task(
        &self,
        tx: &mut Transaction,
        delete_id: &str,
        by_job: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Slot> {
        let (tenant, code) = (&self.tenant, &self.code);
        let mut item = Item::from([
            (PK.into(), s(cleanup_pk(tenant, code, self.created_at))),
            (SK.into(), s(CLEANUP_SK)),
            (GSI1PK.into(), s(PENDING_CLEANUPS_GSI1PK)),
            (
                GSI1SK.into(),
                s(format!("{:013}#{tenant}#{code}", now.timestamp_millis())),
            ),
            ("type".into(), s(CLEANUP_TYPE)),
            ("tenant_id".into(), s(tenant.as_str())),
            ("code".into(), s(code.as_str())),
            ("coupon_created_at".into(), time(self.created_at)),
            ("deleted_at".into(), time(now)),
            ("delete_id".into(), s(delete_id)),
        ]);
        insert_optional(&mut item, "job_id", by_job.map(s));
        // Conditional, so that a retried delete whose first try committed
        // finds its own task, by its `delete_id` (see `delete_coupon`).
        tx.put(item, Some("attribute_not_exists(PK)"), Item::new())
    }

    /// A task item as the stream or the index shows it.
    pub fn from_item(item: &Item) -> Option<DeletedCoupon> {
        let text = |name: &str| item.get(name)?.as_s().ok();
        Some(DeletedCoupon {
            tenant: TenantId::parse(text("tenant_id")?).ok()?,
            code: CouponCode::parse(text("code")?).ok()?,
            created_at: crate::dates::from_millis(
                item.get("coupon_created_at")?.as_n().ok()?.parse().ok()?,
            ),
        })
    }
}

/// The `type` of a clean-up task item (the stream's filter names it too).
pub const CLEANUP_TYPE: &str = "coupon_cleanup";

pub trait CleanupStore: Send + Sync {
    /// Deleted coupons whose leftovers are not removed yet, oldest first.
    fn pending_cleanups(
        &self,
    ) -> impl std::future::Future<Output = StoreResult<Vec<DeletedCoupon>>> + Send;

    /// Removes a deleted coupon's customer counts, releases its held
    /// reservations, and then the task.
    fn clean_up(
        &self,
        deleted: &DeletedCoupon,
        now: DateTime<Utc>,
    ) -> impl std::future::Future<Output = StoreResult<()>> + Send;
}

impl CleanupStore for DynamoStore {
    async fn pending_cleanups(&self) -> StoreResult<Vec<DeletedCoupon>> {
        let items = self
            .query_gsi1(PENDING_CLEANUPS_GSI1PK.to_owned(), None)
            .await?;
        Ok(items.iter().filter_map(DeletedCoupon::from_item).collect())
    }

    async fn clean_up(&self, deleted: &DeletedCoupon, now: DateTime<Utc>) -> StoreResult<()> {
        let DeletedCoupon {
            tenant,
            code,
            created_at,
        } = deleted;
        let pk = coupon_pk(tenant, code);
        let prefix = customer_sk_prefix(*created_at);
        let mut start = None;
        loop {
            let output = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":prefix", s(&prefix))
                .projection_expression("SK")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            let keys = output
                .items
                .unwrap_or_default()
                .iter()
                .filter_map(|item| item.get(SK)?.as_s().ok().cloned())
                .map(|sk| (pk.clone(), sk))
                .collect();
            self.delete_keys(keys).await?;
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        // Held reservations of this coupon (not of a later one under its
        // code): released, with no use to give back.
        for item in self.query_gsi1(held_gsi1pk(tenant, code), None).await? {
            let held = reservation_from(&item)?;
            if held.coupon_created_at == *created_at && held.state == ReservationState::Held {
                self.release_reservation(tenant, &held, false, now).await?;
            }
        }
        self.client()
            .delete_item()
            .table_name(self.table())
            .key(PK, s(cleanup_pk(tenant, code, *created_at)))
            .key(SK, s(CLEANUP_SK))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
