//! Release: a held reservation's use given back, once, by a client
//! (`DELETE /coupon/reserve/{id}`) or because it expired (reclaim). And
//! what a release or a rollback gives back beside marking its own item:
//! the use, to the coupon (or shard) it was taken from while that coupon
//! lives, and the customer's count, while the coupon keeps one for them.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::budget::{self, Counted};
use super::customers::uncount_customer_use;
use super::item::*;
use super::schema::*;
use super::shards::shard_key;
use super::transact::{ATTEMPTS, Attempts, Cancelled, Slot, Transaction, unavailable};
use super::{DynamoStore, Missing, StoreError, StoreResult};
use crate::campaign::BudgetTaken;
use crate::code::CouponCode;
use crate::coupon::{Redemption, Reservation, ReservationState};
use crate::refusal::Refusal;
use crate::tenant::TenantId;

/// Expired reservations given back per look: enough for any checkout rush,
/// small enough to stay one quick Query.
const RECLAIM_BATCH: i32 = 25;

pub trait ReleaseStore: Send + Sync {
    /// Gives a held reservation's use back, once: `Ok(false)` when it was
    /// not held any more (or, with `only_if_expired`, has not expired).
    fn release_reservation(
        &self,
        tenant: &TenantId,
        held: &Reservation,
        only_if_expired: bool,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Releases a batch of the coupon's reservations that expired before
    /// `now`, each once; answers how many this call released. Consume and
    /// reserve do this themselves when a coupon with held uses runs out.
    fn reclaim_expired(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

impl ReleaseStore for DynamoStore {
    async fn release_reservation(
        &self,
        tenant: &TenantId,
        held: &Reservation,
        only_if_expired: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // The use goes back to the coupon while it exists; once it is gone
        // the reservation is still released, with nothing to give back.
        let mut give_back = GiveBack::of_reservation(held);
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let condition = if only_if_expired {
                "#state = :held AND expires_at <= :now"
            } else {
                "#state = :held"
            };
            let values = Item::from([
                (":released".into(), s(ReservationState::Released.as_str())),
                (":held".into(), s(ReservationState::Held.as_str())),
                (":now".into(), time(now)),
            ]);
            let mut tx = self.transaction();
            let release = tx.update(
                (
                    reservation_pk(tenant, &held.reservation_id),
                    RESERVATION_SK.to_owned(),
                ),
                "SET #state = :released, released_at = :now REMOVE GSI1PK, GSI1SK",
                condition,
                &[("#state", "state")],
                values,
            )?;
            let slots = give_back.push(&mut tx, tenant, now)?;
            let Some(cancelled) = self.transact(tx, None).await? else {
                return Ok(true);
            };
            if let Some(current) = cancelled.failed(release) {
                let current = current.map(reservation_from).transpose()?;
                return match current.map(|r| r.state) {
                    Some(ReservationState::Consumed) if !only_if_expired => {
                        Err(StoreError::Refused(Refusal::ReservationUsed))
                    }
                    // Released already, consumed, or not expired yet.
                    Some(_) => Ok(false),
                    None => Err(StoreError::NotFound(Missing::Reservation)),
                };
            }
            if cancelled.conflicted() {
                attempts.back_off().await;
                continue;
            }
            if give_back.after(&cancelled, slots) {
                continue;
            }
            return Err(cancelled.unexplained("release"));
        }
        Err(Attempts::spent("release"))
    }

    async fn reclaim_expired(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK < :now")
            .expression_attribute_values(":pk", s(held_gsi1pk(tenant, code)))
            .expression_attribute_values(":now", s(format!("{:013}", now.timestamp_millis())))
            .limit(RECLAIM_BATCH)
            .send()
            .await
            .map_err(unavailable)?;
        let mut released = 0;
        for item in output.items.unwrap_or_default() {
            let held = reservation_from(&item)?;
            if self.release_reservation(tenant, &held, true, now).await? {
                released += 1;
            }
        }
        Ok(released)
    }
}

pub(super) struct GiveBack<'a> {
    code: &'a CouponCode,
    /// The coupon incarnation (`created_at`) and shard the use came from.
    origin: (DateTime<Utc>, Option<u32>),
    counted: Counted,
    /// Still to give back: cleared once the transaction shows it cannot be.
    use_to_coupon: bool,
    customer: Option<&'a str>,
    /// A campaign code's budget, back to its campaign while that exists
    /// (whether or not the coupon still does).
    budget: Option<&'a BudgetTaken>,
}

/// Where `GiveBack::push` put its writes.
#[derive(Clone, Copy)]
pub(super) struct GiveBackSlots {
    use_to_coupon: Option<Slot>,
    customer: Option<Slot>,
    budget: Option<Slot>,
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
            budget: row.campaign.as_ref(),
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
            budget: held.campaign.as_ref(),
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
            budget: None,
        };
        if let Some(taken) = self.budget {
            slots.budget = Some(budget::push_give_back(tx, tenant, taken, self.counted)?);
        }
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
        if cancelled.refused(slots.budget) {
            // The campaign is gone: nothing to give its budget back to.
            self.budget = None;
            true
        } else if cancelled.refused(slots.use_to_coupon) {
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
