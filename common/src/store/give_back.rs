//! What a release or a rollback gives back beside marking its own item:
//! the use, to the coupon (or shard) it was taken from while that coupon
//! lives, and the customer's count, while the coupon keeps one for them.

use chrono::{DateTime, Utc};

use super::StoreResult;
use super::customers::uncount_customer_use;
use super::item::*;
use super::shards::shard_key;
use super::take::coupon_key;
use super::transact::{Cancelled, Slot, Transaction};
use crate::code::CouponCode;
use crate::coupon::{Redemption, Reservation};
use crate::tenant::TenantId;

/// Where a use given back was counted.
#[derive(Clone, Copy)]
enum Counted {
    /// As redeemed: a rolled-back redemption.
    Redeemed,
    /// As reserved: a released reservation.
    Reserved,
}

pub(super) struct GiveBack<'a> {
    code: &'a CouponCode,
    /// The coupon incarnation (`created_at`) and shard the use came from.
    origin: (DateTime<Utc>, Option<u32>),
    counted: Counted,
    /// Still to give back: cleared once the transaction shows it cannot be.
    use_to_coupon: bool,
    customer: Option<&'a str>,
}

/// Where `GiveBack::push` put its writes.
#[derive(Clone, Copy)]
pub(super) struct GiveBackSlots {
    use_to_coupon: Option<Slot>,
    customer: Option<Slot>,
}

impl<'a> GiveBack<'a> {
    /// What a rolled-back redemption gives back.
    pub(super) fn of_redemption(row: &'a Redemption) -> GiveBack<'a> {
        GiveBack {
            code: &row.code,
            origin: (row.coupon_created_at, row.shard),
            counted: Counted::Redeemed,
            use_to_coupon: true,
            customer: row
                .customer_id
                .as_deref()
                .filter(|_| row.counted_for_customer),
        }
    }

    /// What a released reservation gives back.
    pub(super) fn of_reservation(held: &'a Reservation) -> GiveBack<'a> {
        GiveBack {
            code: &held.code,
            origin: (held.coupon_created_at, held.shard),
            counted: Counted::Reserved,
            use_to_coupon: true,
            customer: held
                .customer_id
                .as_deref()
                .filter(|_| held.counted_for_customer),
        }
    }

    /// Whether the use went back to the coupon (after the transaction).
    pub(super) fn gives_use_back(&self) -> bool {
        self.use_to_coupon
    }

    pub(super) fn push(
        &self,
        tx: &mut Transaction,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> StoreResult<GiveBackSlots> {
        let mut slots = GiveBackSlots {
            use_to_coupon: None,
            customer: None,
        };
        if !self.use_to_coupon {
            return Ok(slots);
        }
        slots.use_to_coupon = Some(self.return_use(tx, tenant, now)?);
        if let Some(customer) = self.customer {
            slots.customer = Some(uncount_customer_use(
                tx,
                tenant,
                self.code,
                self.origin.0,
                customer,
            )?);
        }
        Ok(slots)
    }

    /// Gives one use back to the coupon (or its shard) it was taken from,
    /// if that coupon still exists (not deleted, not re-created under its
    /// code), and only if it counts the use as taken: no count goes below
    /// zero.
    fn return_use(
        &self,
        tx: &mut Transaction,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> StoreResult<Slot> {
        let (expression, condition) = match self.counted {
            Counted::Redeemed => (
                "SET uses_left = uses_left + :one, redeemed_count = redeemed_count - :one, updated_at = :now",
                "attribute_exists(PK) AND created_at = :created_at AND redeemed_count > :zero",
            ),
            Counted::Reserved => (
                "SET uses_left = uses_left + :one, reserved_count = reserved_count - :one, updated_at = :now",
                "attribute_exists(PK) AND created_at = :created_at AND reserved_count > :zero",
            ),
        };
        let (created_at, shard) = self.origin;
        let key = match shard {
            Some(shard) => shard_key(tenant, self.code, shard),
            None => coupon_key(tenant, self.code),
        };
        tx.update(
            key,
            expression,
            condition,
            &[],
            Item::from([
                (":one".into(), n(1)),
                (":zero".into(), n(0)),
                (":now".into(), time(now)),
                (":created_at".into(), time(created_at)),
            ]),
        )
    }

    /// Drops what the cancellation shows cannot be given back; `false`
    /// when neither write failed its condition.
    pub(super) fn after(&mut self, cancelled: &Cancelled, slots: GiveBackSlots) -> bool {
        if cancelled.refused(slots.use_to_coupon) {
            // Deleted, or its code taken by a later coupon: nothing goes back.
            self.use_to_coupon = false;
            true
        } else if cancelled.refused(slots.customer) {
            // The coupon lives but keeps no count for this customer: the
            // use still goes back.
            self.customer = None;
            true
        } else {
            false
        }
    }
}
