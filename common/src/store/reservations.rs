//! Reservations: a use held for a checkout until it is consumed, released,
//! or expires. Reserve takes a use like consume does (see `take`); release
//! and reclaim give it back (see `give_back`).

use std::future::Future;

use chrono::{DateTime, Utc};

use super::customers::count_customer_use;
use super::give_back::GiveBack;
use super::item::*;
use super::schema::*;
use super::take::{Source, Take};
use super::transact::{ATTEMPTS, Attempts, unavailable};
use super::{DynamoStore, StoreError, StoreResult};
use crate::code::CouponCode;
use crate::coupon::{Coupon, Redeem, Reservation, ReservationState};
use crate::error::Refusal;
use crate::tenant::TenantId;

/// Expired reservations given back per look: enough for any checkout rush,
/// small enough to stay one quick Query.
const RECLAIM_BATCH: i32 = 25;

pub trait ReservationStore: Send + Sync {
    /// Holds one use of `seen` until `expires_at`. Answers the reservation
    /// and the coupon as it left it.
    fn reserve(
        &self,
        tenant: &TenantId,
        seen: &Coupon,
        redeem: &Redeem,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<(Reservation, Coupon)>> + Send;

    fn get_reservation(
        &self,
        tenant: &TenantId,
        reservation_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Reservation>>> + Send;

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

impl ReservationStore for DynamoStore {
    async fn reserve(
        &self,
        tenant: &TenantId,
        seen: &Coupon,
        redeem: &Redeem,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Reservation, Coupon)> {
        let mut source = Source::new(self, tenant, seen, redeem, Take::Hold, now);
        let mut attempts = Attempts::new(source.attempts());
        while attempts.another() {
            source.refusal_before_writing().await?;
            let seen = &source.seen;
            let count_customer = seen.max_uses_per_customer.zip(redeem.customer_id.clone());
            let mut tx = self.transaction();
            let (take, shard) = source.write(&mut tx)?;
            let reservation = Reservation {
                reservation_id: uuid::Uuid::new_v4().to_string(),
                code: seen.code.clone(),
                coupon_created_at: seen.created_at,
                customer_id: redeem.customer_id.clone(),
                counted_for_customer: count_customer.is_some(),
                shard,
                state: ReservationState::Held,
                created_at: now,
                expires_at,
            };
            let held = tx.put(
                reservation_item(tenant, &reservation),
                Some("attribute_not_exists(PK)"),
                Item::new(),
            )?;
            let customer = match &count_customer {
                Some((max, customer)) => {
                    Some(count_customer_use(&mut tx, tenant, seen, customer, *max)?)
                }
                None => None,
            };
            let cancelled = self.transact(tx, Some(&reservation.reservation_id)).await?;
            // Our reservation exists already: an earlier try committed.
            let Some(cancelled) = cancelled.filter(|c| !c.refused(held)) else {
                let after = Coupon {
                    uses_left: seen.uses_left.saturating_sub(1),
                    reserved_count: seen.reserved_count + 1,
                    updated_at: now,
                    ..seen.clone()
                };
                return Ok((reservation, after));
            };
            if cancelled.conflicted() {
                attempts.back_off().await;
                continue;
            }
            if let Some(current) = cancelled.failed(take) {
                source.after_failure(current, shard).await?;
                continue;
            }
            if cancelled.refused(customer) {
                return Err(StoreError::Refused(Refusal::CustomerLimitReached));
            }
            return Err(cancelled.unexplained("reserve"));
        }
        Err(Attempts::spent("reserve"))
    }

    async fn get_reservation(
        &self,
        tenant: &TenantId,
        reservation_id: &str,
    ) -> StoreResult<Option<Reservation>> {
        self.get(reservation_pk(tenant, reservation_id), RESERVATION_SK)
            .await?
            .as_ref()
            .map(reservation_from)
            .transpose()
    }

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
                    None => Err(StoreError::NotFound),
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
