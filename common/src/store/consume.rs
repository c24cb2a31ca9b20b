//! Consume: one `TransactWriteItems` takes a use (or converts a held
//! reservation) and writes what explains it: the redemption row, the
//! customer's count, the reservation's new state and the idempotency
//! record, so none of them can happen without the others.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::customers::count_customer_use;
use super::item::*;
use super::log_item::redemption_item;
use super::schema::*;
use super::take::{Source, Take};
use super::transact::{Attempts, Slot, Transaction};
use super::{DynamoStore, Missing, StoreError, StoreResult};
use crate::coupon::{Coupon, Redeem, Redemption, RedemptionKind, Reservation, ReservationState};
use crate::idempotency::Idempotency;
use crate::metadata::Metadata;
use crate::refusal::Refusal;
use crate::tenant::TenantId;

/// One consume: the coupon as last read and what the client asked for.
#[derive(Clone, Copy)]
pub struct ConsumeRequest<'a> {
    pub seen: &'a Coupon,
    pub redeem: &'a Redeem,
    /// A held reservation to convert instead of taking a fresh use.
    pub reservation: Option<&'a Reservation>,
    pub idempotency: Option<&'a Idempotency>,
    /// The consume's own metadata, for its log row.
    pub metadata: &'a Metadata,
    pub now: DateTime<Utc>,
    /// The response body of a consume that writes this row and leaves the
    /// coupon this many uses: the handler layer renders it, the store keeps
    /// it (for an idempotent retry to replay) and hands it back.
    pub render: &'a (dyn Fn(&Redemption, u64) -> String + Sync),
}

#[derive(Debug)]
pub enum Consumed {
    /// This request consumed a use; `body` is its response.
    Fresh { after: Box<Coupon>, body: String },
    /// An earlier request with the same idempotency key did; `body` is the
    /// response it got, byte for byte.
    Replayed { body: String },
}

pub trait ConsumeStore: Send + Sync {
    /// Takes one use of `seen` (or converts a reservation) and writes the
    /// redemption row, the customer's count and the idempotency record in
    /// one transaction. It is conditional on the coupon still being usable
    /// and still carrying the terms `seen` shows.
    fn consume(
        &self,
        tenant: &TenantId,
        request: ConsumeRequest<'_>,
    ) -> impl Future<Output = StoreResult<Consumed>> + Send;

    /// The answer a consume with this idempotency key got, while the key is
    /// kept: `Some(body)` for the same parameters, `IdempotencyKeyReused`
    /// for others, `None` when no consume with it succeeded.
    fn idempotent_answer(
        &self,
        tenant: &TenantId,
        idempotency: &Idempotency,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<String>>> + Send;
}

/// Where each write of a consume transaction sits.
struct ConsumeSlots {
    take: Slot,
    budget: Option<Slot>,
    row: Slot,
    customer: Option<Slot>,
    reservation: Option<Slot>,
    idempotency: Option<Slot>,
}

impl ConsumeStore for DynamoStore {
    async fn consume(
        &self,
        tenant: &TenantId,
        request: ConsumeRequest<'_>,
    ) -> StoreResult<Consumed> {
        let ConsumeRequest {
            redeem,
            reservation,
            idempotency,
            now,
            ..
        } = request;
        let take = match reservation {
            Some(held) => Take::Convert(held),
            None => Take::Use,
        };
        let mut source = Source::new(self, tenant, request.seen, redeem, take, now);
        let mut attempts = Attempts::new(source.attempts());
        while attempts.another() {
            source.refusal_before_writing().await?;
            let seen = &source.seen;
            let customer_id = redeem
                .customer_id
                .clone()
                .or_else(|| reservation.and_then(|r| r.customer_id.clone()));
            let count_customer = match (take, seen.max_uses_per_customer, &customer_id) {
                (Take::Use, Some(max), Some(customer)) => Some((max, customer.clone())),
                _ => None,
            };
            let mut tx = self.transaction();
            let redemption_id = Redemption::new_id(now);
            let taken = source.write(&mut tx, &redemption_id)?;
            let shard = taken.shard;
            let redemption = Redemption {
                redemption_id,
                kind: RedemptionKind::Consume,
                reverses: None,
                rolled_back_by: None,
                code: seen.code.clone(),
                coupon_created_at: seen.created_at,
                product_id: redeem
                    .product_id
                    .clone()
                    .or_else(|| seen.product_id.clone()),
                promo_type: seen.promo_type.clone(),
                discount: seen.discount,
                currency: seen.currency.clone(),
                customer_id,
                counted_for_customer: count_customer.is_some()
                    || reservation.is_some_and(|r| r.counted_for_customer),
                pricing: seen.pricing(redeem),
                reservation_id: reservation.map(|r| r.reservation_id.clone()),
                shard,
                campaign: taken.budget.as_ref().map(|(_, spent)| spent.clone()),
                consumed_at: now,
                metadata: request.metadata.clone(),
            };
            let after = Coupon {
                uses_left: match take {
                    Take::Convert(_) => seen.uses_left,
                    _ => seen.uses_left.saturating_sub(1),
                },
                reserved_count: match take {
                    Take::Convert(_) => seen.reserved_count.saturating_sub(1),
                    _ => seen.reserved_count,
                },
                redeemed_count: seen.redeemed_count + 1,
                updated_at: now,
                ..seen.clone()
            };
            let body = (request.render)(&redemption, after.uses_left);

            let row = tx.put(
                redemption_item(tenant, &redemption),
                Some("attribute_not_exists(PK)"),
                Item::new(),
            )?;
            let mut slots = ConsumeSlots {
                take: taken.slot,
                budget: taken.budget.map(|(slot, _)| slot),
                row,
                customer: None,
                reservation: None,
                idempotency: None,
            };
            if let Some((max, customer)) = &count_customer {
                slots.customer = Some(count_customer_use(&mut tx, tenant, seen, customer, *max)?);
            }
            if let Some(held) = reservation {
                slots.reservation = Some(convert_reservation(
                    &mut tx,
                    tenant,
                    held,
                    &redemption,
                    now,
                )?);
            }
            if let Some(idempotency) = idempotency {
                slots.idempotency = Some(idempotency_record(
                    &mut tx,
                    tenant,
                    idempotency,
                    &body,
                    now,
                )?);
            }

            let cancelled = self.transact(tx, Some(&redemption.redemption_id)).await?;
            // Our row exists already: an earlier try of this very
            // transaction committed and only its answer was lost.
            let Some(cancelled) = cancelled.filter(|c| !c.refused(slots.row)) else {
                return Ok(Consumed::Fresh {
                    after: Box::new(after),
                    body,
                });
            };
            // An earlier request with this key decides the answer, whatever
            // else failed alongside.
            if let Some(earlier) = cancelled.failed(slots.idempotency) {
                let body = earlier_answer(earlier, idempotency)?;
                return Ok(Consumed::Replayed { body });
            }
            if cancelled.conflicted() {
                attempts.back_off().await;
                continue;
            }
            if let Some(held) = cancelled.failed(slots.reservation) {
                let held = held.map(reservation_from).transpose()?;
                return Err(match held {
                    Some(held) if held.code == source.seen.code => StoreError::Refused(
                        held.refusal(now).unwrap_or(Refusal::ReservationExpired),
                    ),
                    _ => StoreError::NotFound(Missing::Reservation),
                });
            }
            if let Some(current) = cancelled.failed(slots.take) {
                source.after_failure(current, shard).await?;
                continue;
            }
            if let Some(current) = cancelled.failed(slots.budget) {
                source.after_budget_failure(current).await?;
                continue;
            }
            if cancelled.refused(slots.customer) {
                return Err(StoreError::Refused(Refusal::CustomerLimitReached));
            }
            return Err(cancelled.unexplained("consume"));
        }
        Err(Attempts::spent("consume"))
    }

    async fn idempotent_answer(
        &self,
        tenant: &TenantId,
        idempotency: &Idempotency,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let item = self
            .get(idempotency_pk(tenant, &idempotency.key), IDEMPOTENCY_SK)
            .await?;
        // TTL deletes lazily: a record past its time no longer counts.
        let Some(item) = item.filter(|item| {
            item.get(EXPIRES_TTL)
                .and_then(|v| v.as_n().ok()?.parse::<i64>().ok())
                .is_some_and(|ttl| ttl >= now.timestamp())
        }) else {
            return Ok(None);
        };
        earlier_answer(Some(&item), Some(idempotency)).map(Some)
    }
}

/// Marks a held reservation consumed by `redemption`, if it is still held,
/// unexpired and made on the code `redemption` consumes.
fn convert_reservation(
    tx: &mut Transaction,
    tenant: &TenantId,
    held: &Reservation,
    redemption: &Redemption,
    now: DateTime<Utc>,
) -> StoreResult<Slot> {
    tx.update(
        (
            reservation_pk(tenant, &held.reservation_id),
            RESERVATION_SK.to_owned(),
        ),
        "SET #state = :consumed, redemption_id = :redemption REMOVE GSI1PK, GSI1SK",
        "#state = :held AND expires_at > :now AND code = :code",
        &[("#state", "state")],
        Item::from([
            (":consumed".into(), s(ReservationState::Consumed.as_str())),
            (":held".into(), s(ReservationState::Held.as_str())),
            (":redemption".into(), s(&redemption.redemption_id)),
            (":now".into(), time(now)),
            (":code".into(), s(redemption.code.as_str())),
        ]),
    )
}

/// The record that answers a retry with the same key, for its lifetime.
fn idempotency_record(
    tx: &mut Transaction,
    tenant: &TenantId,
    idempotency: &Idempotency,
    body: &str,
    now: DateTime<Utc>,
) -> StoreResult<Slot> {
    let item = Item::from([
        (PK.into(), s(idempotency_pk(tenant, &idempotency.key))),
        (SK.into(), s(IDEMPOTENCY_SK)),
        ("type".into(), s("idempotency")),
        ("fingerprint".into(), s(&idempotency.fingerprint)),
        ("response".into(), s(body)),
        ("created_at".into(), time(now)),
        (
            EXPIRES_TTL.into(),
            n(now.timestamp() + IDEMPOTENCY_KEPT_SECS),
        ),
    ]);
    // TTL deletes lazily: an expired record no longer counts.
    tx.put(
        item,
        Some("attribute_not_exists(PK) OR expires_ttl < :now_secs"),
        Item::from([(":now_secs".into(), n(now.timestamp()))]),
    )
}

/// The response an idempotency record keeps, if `asked` has its parameters.
fn earlier_answer(record: Option<&Item>, asked: Option<&Idempotency>) -> StoreResult<String> {
    let fingerprint = record.and_then(|i| i.get("fingerprint")?.as_s().ok());
    let response = record.and_then(|i| i.get("response")?.as_s().ok());
    match (fingerprint, response, asked) {
        (Some(f), Some(body), Some(asked)) if *f == asked.fingerprint => Ok(body.clone()),
        _ => Err(StoreError::IdempotencyKeyReused),
    }
}
