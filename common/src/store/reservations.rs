//! Reservations: a use held for a checkout until it is consumed, released,
//! or expires. Reserve takes a use like consume does (see `take`); release
//! and reclaim give it back (see `release`).

use std::future::Future;

use chrono::{DateTime, Utc};

use super::customers::count_customer_use;
use super::item::*;
use super::schema::*;
use super::take::{Source, Take};
use super::transact::Attempts;
use super::{DynamoStore, StoreError, StoreResult};
use crate::coupon::{Coupon, Redeem, Reservation, ReservationState};
use crate::refusal::Refusal;
use crate::tenant::TenantId;

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
            // A hold redeems nothing: no log row for the item to name.
            let taken = source.write(&mut tx, "")?;
            let (take, shard) = (taken.slot, taken.shard);
            let reservation = Reservation {
                reservation_id: uuid::Uuid::new_v4().to_string(),
                code: seen.code.clone(),
                coupon_created_at: seen.created_at,
                customer_id: redeem.customer_id.clone(),
                counted_for_customer: count_customer.is_some(),
                shard,
                campaign: taken.budget.as_ref().map(|(_, held)| held.clone()),
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
            if let Some(current) = cancelled.failed(taken.budget.as_ref().map(|(slot, _)| *slot)) {
                source.after_budget_failure(current).await?;
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
}
