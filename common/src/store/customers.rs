//! Per-customer counts of a coupon's uses and holds, for
//! `max_uses_per_customer`. Each count is keyed by the coupon incarnation
//! (its `created_at`), so a coupon created later under the same code
//! starts from zero, whenever the old counts are cleaned up.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::item::*;
use super::schema::*;
use super::transact::{Key, Slot, Transaction};
use super::{DynamoStore, StoreResult};
use crate::code::CouponCode;
use crate::coupon::Coupon;
use crate::tenant::TenantId;

pub trait CustomerCountStore: Send + Sync {
    /// Uses and held reservations a customer has of a coupon.
    fn customer_uses(
        &self,
        tenant: &TenantId,
        coupon: &Coupon,
        customer_id: &str,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

impl CustomerCountStore for DynamoStore {
    async fn customer_uses(
        &self,
        tenant: &TenantId,
        coupon: &Coupon,
        customer_id: &str,
    ) -> StoreResult<u64> {
        let (pk, sk) = customer_key(tenant, &coupon.code, coupon.created_at, customer_id);
        let item = self.get(pk, &sk).await?;
        Ok(item
            .and_then(|i| i.get("uses")?.as_n().ok()?.parse().ok())
            .unwrap_or(0))
    }
}

fn customer_key(
    tenant: &TenantId,
    code: &CouponCode,
    coupon_created_at: DateTime<Utc>,
    customer_id: &str,
) -> Key {
    (
        coupon_pk(tenant, code),
        customer_sk(coupon_created_at, customer_id),
    )
}

/// Counts one more use (or hold) of `coupon` for a customer, unless they
/// have `max`.
pub(super) fn count_customer_use(
    tx: &mut Transaction,
    tenant: &TenantId,
    coupon: &Coupon,
    customer_id: &str,
    max: u64,
) -> StoreResult<Slot> {
    tx.update(
        customer_key(tenant, &coupon.code, coupon.created_at, customer_id),
        "ADD #uses :one",
        "attribute_not_exists(#uses) OR #uses < :max",
        &[("#uses", "uses")],
        Item::from([(":one".into(), n(1)), (":max".into(), n(max))]),
    )
}

/// Gives a customer's use (or hold) of one coupon incarnation back; never
/// below zero.
pub(super) fn uncount_customer_use(
    tx: &mut Transaction,
    tenant: &TenantId,
    code: &CouponCode,
    coupon_created_at: DateTime<Utc>,
    customer_id: &str,
) -> StoreResult<Slot> {
    tx.update(
        customer_key(tenant, code, coupon_created_at, customer_id),
        "ADD #uses :minus_one",
        "#uses > :zero",
        &[("#uses", "uses")],
        Item::from([(":minus_one".into(), n(-1)), (":zero".into(), n(0))]),
    )
}
