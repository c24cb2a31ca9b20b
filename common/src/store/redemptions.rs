//! Consume, reserve, release and roll back: every change of a coupon's
//! uses is one `TransactWriteItems` that also writes what explains it (a
//! log row, a reservation, an idempotency record, a per-customer count), so
//! none of them can happen without the others.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::join_all;
use rand::RngExt;

use super::dynamo::{unavailable, write_failed};
use super::item::*;
use super::schema::*;
use super::shards::{ShardState, random_shard, shard_key};
use super::{ConsumeRequest, Consumed, DynamoStore, RedemptionStore, StoreError, StoreResult};
use crate::code::CouponCode;
use crate::coupon::{
    Coupon, Redeem, Redemption, RedemptionKind, Reservation, ReservationState, expiry_second,
};
use crate::error::Refusal;
use crate::idempotency::Idempotency;
use crate::tenant::TenantId;

/// Attempts at one transaction: its coupon may change terms between read and
/// write, and DynamoDB cancels transactions that touch an item another
/// transaction is writing at that moment.
pub(super) const ATTEMPTS: u32 = 6;

/// The coupon condition of consume and reserve: the same rules as
/// `Coupon::refusal`, evaluated by DynamoDB at write time, plus "still
/// carries the terms `seen` shows", so the log row copies true terms.
fn usable_condition(
    seen: &Coupon,
    redeem: &Redeem,
    needs_a_use: bool,
    now: DateTime<Utc>,
    values: &mut Item,
) -> String {
    // Every consume builds this: one string, clauses joined by " AND ".
    let mut condition = String::with_capacity(640);
    condition.push_str(
        "attribute_exists(PK) AND active = :true AND created_at = :seen_created_at \
         AND (attribute_not_exists(starts_at) OR starts_at <= :now) \
         AND (attribute_not_exists(expires_at) OR expires_at >= :expiry_second)",
    );
    values.insert(":true".into(), AttributeValue::Bool(true));
    values.insert(":seen_created_at".into(), time(seen.created_at));
    values.insert(":expiry_second".into(), time(expiry_second(now)));
    if needs_a_use {
        condition.push_str(" AND uses_left > :zero");
    }
    if let Some(product_id) = &redeem.product_id {
        condition
            .push_str(" AND (attribute_not_exists(product_id) OR product_id = :asked_product)");
        values.insert(":asked_product".into(), s(product_id));
    }
    let discount = seen.discount.map(discount_attrs);
    // Each term: its attribute, its placeholder, and the value `seen` shows.
    let terms = [
        (
            "product_id",
            ":seen_product_id",
            seen.product_id.clone().map(s),
        ),
        (
            "promo_type",
            ":seen_promo_type",
            seen.promo_type.clone().map(s),
        ),
        ("currency", ":seen_currency", seen.currency.clone().map(s)),
        (
            "discount_type",
            ":seen_discount_type",
            discount.clone().map(|(kind, _)| kind),
        ),
        (
            "discount_value",
            ":seen_discount_value",
            discount.map(|(_, value)| value),
        ),
        (
            "min_order_amount",
            ":seen_min_order_amount",
            seen.min_order_amount.map(|m| n(m.minor())),
        ),
        (
            "max_uses_per_customer",
            ":seen_max_uses_per_customer",
            seen.max_uses_per_customer.map(n),
        ),
    ];
    for (name, placeholder, value) in terms {
        condition.push_str(" AND ");
        match value {
            Some(value) => {
                condition.push_str(name);
                condition.push_str(" = ");
                condition.push_str(placeholder);
                values.insert(placeholder.to_owned(), value);
            }
            None => {
                condition.push_str("attribute_not_exists(");
                condition.push_str(name);
                condition.push(')');
            }
        }
    }
    condition
}

/// One conditional write of a transaction; a failed condition returns the
/// item as it was, which tells why without another read.
pub(super) fn update(
    table: &str,
    key: (String, String),
    expression: &str,
    condition: &str,
    names: &[(&str, &str)],
    values: Item,
) -> StoreResult<TransactWriteItem> {
    let mut update = Update::builder()
        .table_name(table)
        .key(PK, s(key.0))
        .key(SK, s(key.1))
        .update_expression(expression)
        .condition_expression(condition)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (placeholder, name) in names {
        update = update.expression_attribute_names(*placeholder, *name);
    }
    if !values.is_empty() {
        update = update.set_expression_attribute_values(Some(values));
    }
    let update = update
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn put(table: &str, item: Item, condition: &str, values: Item) -> StoreResult<TransactWriteItem> {
    let mut put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    if !values.is_empty() {
        put = put.set_expression_attribute_values(Some(values));
    }
    let put = put
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Why DynamoDB cancelled a transaction, item by item.
pub(super) struct Cancelled(Vec<CancellationReason>);

impl Cancelled {
    /// `Some(item as it was)` when the write at `slot` failed its condition.
    pub(super) fn failed(&self, slot: Option<usize>) -> Option<Option<&Item>> {
        let reason = self.0.get(slot?)?;
        (reason.code() == Some("ConditionalCheckFailed")).then(|| reason.item())
    }

    /// A cancellation none of the conditions explains.
    pub(super) fn unexplained(&self, operation: &str) -> StoreError {
        StoreError::Unavailable(format!("{operation} cancelled: {:?}", self.0))
    }

    /// Another transaction held one of the items: worth another attempt.
    pub(super) fn conflicted(&self) -> bool {
        self.0
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
    }
}

/// A short random pause before another attempt, longer each time, so
/// conflicting requests do not retry in lockstep.
pub(super) async fn back_off(attempt: u32) {
    let millis = rand::rng().random_range(5..=20) * u64::from(attempt + 1);
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// A customer's count item of one coupon: a coupon created later under the
/// same code starts from zero, whenever the old counts are cleaned up.
fn customer_key(
    tenant: &TenantId,
    code: &CouponCode,
    coupon_created_at: DateTime<Utc>,
    customer_id: &str,
) -> (String, String) {
    (
        coupon_pk(tenant, code),
        customer_sk(coupon_created_at, customer_id),
    )
}

fn coupon_key(tenant: &TenantId, code: &CouponCode) -> (String, String) {
    (coupon_pk(tenant, code), COUPON_SK.to_owned())
}

/// Counts one more use (or hold) for a customer, unless they have `max`.
fn count_customer_use(
    table: &str,
    tenant: &TenantId,
    coupon: &Coupon,
    customer_id: &str,
    max: u64,
) -> StoreResult<TransactWriteItem> {
    update(
        table,
        customer_key(tenant, &coupon.code, coupon.created_at, customer_id),
        "ADD #uses :one",
        "attribute_not_exists(#uses) OR #uses < :max",
        &[("#uses", "uses")],
        Item::from([(":one".into(), n(1)), (":max".into(), n(max))]),
    )
}

/// Gives a customer's use (or hold) back.
fn uncount_customer_use(
    table: &str,
    tenant: &TenantId,
    code: &CouponCode,
    coupon_created_at: DateTime<Utc>,
    customer_id: &str,
) -> StoreResult<TransactWriteItem> {
    update(
        table,
        customer_key(tenant, code, coupon_created_at, customer_id),
        "ADD #uses :minus_one",
        "#uses > :zero",
        &[("#uses", "uses")],
        Item::from([(":minus_one".into(), n(-1)), (":zero".into(), n(0))]),
    )
}

/// Where a use given back comes from.
#[derive(Clone, Copy)]
enum Returned {
    /// A rolled-back redemption.
    Redeemed,
    /// A released reservation.
    Reserved,
}

/// Gives one use back to the coupon (or the coupon's `shard`) a row or
/// reservation took it from, if that coupon still exists (not deleted, not
/// re-created under its code).
fn return_use(
    table: &str,
    tenant: &TenantId,
    code: &CouponCode,
    (coupon_created_at, shard): (DateTime<Utc>, Option<u32>),
    from: Returned,
    now: DateTime<Utc>,
) -> StoreResult<TransactWriteItem> {
    // Every decrement requires something to take: no count goes below zero.
    let (expression, condition) = match from {
        Returned::Redeemed => (
            "SET uses_left = uses_left + :one, redeemed_count = redeemed_count - :one, updated_at = :now",
            "attribute_exists(PK) AND created_at = :created_at AND redeemed_count > :zero",
        ),
        Returned::Reserved => (
            "SET uses_left = uses_left + :one, reserved_count = reserved_count - :one, updated_at = :now",
            "attribute_exists(PK) AND created_at = :created_at AND reserved_count > :zero",
        ),
    };
    let key = match shard {
        Some(shard) => shard_key(tenant, code, shard),
        None => coupon_key(tenant, code),
    };
    update(
        table,
        key,
        expression,
        condition,
        &[],
        Item::from([
            (":one".into(), n(1)),
            (":zero".into(), n(0)),
            (":now".into(), time(now)),
            (":created_at".into(), time(coupon_created_at)),
        ]),
    )
}

/// What a release or a rollback gives back beside marking its own item:
/// the use, to the coupon it was taken from while that coupon lives, and
/// the customer's count, while the coupon keeps one for them.
struct GiveBack<'a> {
    code: &'a CouponCode,
    /// The coupon's `created_at` and shard the use was taken from.
    origin: (DateTime<Utc>, Option<u32>),
    from: Returned,
    use_to_coupon: bool,
    customer: Option<&'a str>,
}

/// Where `GiveBack::push` put its writes in the transaction.
#[derive(Clone, Copy)]
struct GiveBackSlots {
    use_to_coupon: Option<usize>,
    customer: Option<usize>,
}

impl<'a> GiveBack<'a> {
    /// What a rolled-back redemption gives back.
    fn of_redemption(row: &'a Redemption) -> GiveBack<'a> {
        GiveBack {
            code: &row.code,
            origin: (row.coupon_created_at, row.shard),
            from: Returned::Redeemed,
            use_to_coupon: true,
            customer: row
                .customer_id
                .as_deref()
                .filter(|_| row.counted_for_customer),
        }
    }

    /// What a released reservation gives back.
    fn of_reservation(held: &'a Reservation) -> GiveBack<'a> {
        GiveBack {
            code: &held.code,
            origin: (held.coupon_created_at, held.shard),
            from: Returned::Reserved,
            use_to_coupon: true,
            customer: held
                .customer_id
                .as_deref()
                .filter(|_| held.counted_for_customer),
        }
    }

    fn push(
        &self,
        items: &mut Vec<TransactWriteItem>,
        table: &str,
        tenant: &TenantId,
        now: DateTime<Utc>,
    ) -> StoreResult<GiveBackSlots> {
        let (code, origin) = (self.code, self.origin);
        let mut slots = GiveBackSlots {
            use_to_coupon: None,
            customer: None,
        };
        if !self.use_to_coupon {
            return Ok(slots);
        }
        slots.use_to_coupon = Some(items.len());
        items.push(return_use(table, tenant, code, origin, self.from, now)?);
        if let Some(customer) = self.customer {
            slots.customer = Some(items.len());
            items.push(uncount_customer_use(
                table, tenant, code, origin.0, customer,
            )?);
        }
        Ok(slots)
    }

    /// Drops what the cancellation shows cannot be given back; `false`
    /// when neither write failed its condition.
    fn after(&mut self, cancelled: &Cancelled, slots: GiveBackSlots) -> bool {
        if cancelled.failed(slots.use_to_coupon).is_some() {
            // Deleted, or its code taken by a later coupon: nothing goes back.
            self.use_to_coupon = false;
            true
        } else if cancelled.failed(slots.customer).is_some() {
            // The coupon lives but keeps no count for this customer: the
            // use still goes back.
            self.customer = None;
            true
        } else {
            false
        }
    }
}

fn idempotency_record(
    table: &str,
    tenant: &TenantId,
    idempotency: &Idempotency,
    body: &str,
    now: DateTime<Utc>,
) -> StoreResult<TransactWriteItem> {
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
    put(
        table,
        item,
        "attribute_not_exists(PK) OR expires_ttl < :now_secs",
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

/// Where each optional write sits in a consume transaction.
#[derive(Default)]
struct Slots {
    customer: Option<usize>,
    reservation: Option<usize>,
    idempotency: Option<usize>,
}

impl DynamoStore {
    /// Runs a transaction: `None` when it committed, the reasons when
    /// DynamoDB cancelled it, `Unavailable` for any other failure. `token`
    /// (the id of the row or reservation it writes) makes the SDK's own
    /// retries idempotent on DynamoDB: a retry of an attempt that committed
    /// but whose answer was lost succeeds without writing again.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        token: Option<&str>,
    ) -> StoreResult<Option<Cancelled>> {
        // Boxed, like the limiter's: see `BucketStore::attempt` there.
        let send = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_client_request_token(token.map(str::to_owned))
            .send();
        match Box::pin(send).await {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
                    Ok(Some(Cancelled(t.cancellation_reasons().to_vec())))
                }
                _ => Err(write_failed(e)),
            },
        }
    }

    /// The coupon as stored now, for another attempt.
    async fn read_again(&self, tenant: &TenantId, code: &CouponCode) -> StoreResult<Coupon> {
        use super::CouponStore;
        self.get_coupon(tenant, code)
            .await?
            .ok_or(StoreError::NotFound)
    }
}

/// What a write takes from a coupon's counts.
#[derive(Clone, Copy, PartialEq)]
enum Take<'a> {
    /// A use, redeemed now (consume).
    Use,
    /// A use, held by a new reservation (reserve).
    Hold,
    /// This reservation's held use, redeemed now (consume with
    /// `reservation_id`); it holds its customer count already.
    Convert(&'a Reservation),
}

impl Take<'_> {
    fn expression(self) -> &'static str {
        match self {
            Take::Use => {
                "SET uses_left = uses_left - :one, redeemed_count = redeemed_count + :one, updated_at = :now"
            }
            Take::Hold => {
                "SET uses_left = uses_left - :one, updated_at = :now, \
                 reserved_count = if_not_exists(reserved_count, :zero) + :one"
            }
            Take::Convert(_) => {
                "SET redeemed_count = redeemed_count + :one, reserved_count = reserved_count - :one, updated_at = :now"
            }
        }
    }

    fn needs_a_use(self) -> bool {
        !matches!(self, Take::Convert(_))
    }
}

/// Where consume and reserve take a use from, attempt after attempt: the
/// coupon item, or one of a `high_demand` coupon's shards, a random one
/// first and, once it runs dry, the others that still have uses.
struct Source<'a> {
    store: &'a DynamoStore,
    tenant: &'a TenantId,
    redeem: &'a Redeem,
    take: Take<'a>,
    now: DateTime<Utc>,
    /// The coupon as last read; its terms are what the write requires.
    seen: Coupon,
    /// Shards known to have uses, once a first shard ran dry.
    shards_with_uses: Option<Vec<u32>>,
    /// Expired reservations were given back once already.
    reclaimed: bool,
    /// `seen` was read during this call (not handed in from a cache).
    read_here: bool,
}

impl<'a> Source<'a> {
    fn new(
        store: &'a DynamoStore,
        tenant: &'a TenantId,
        seen: &Coupon,
        redeem: &'a Redeem,
        take: Take<'a>,
        now: DateTime<Utc>,
    ) -> Source<'a> {
        Source {
            store,
            tenant,
            redeem,
            take,
            now,
            seen: seen.clone(),
            shards_with_uses: None,
            reclaimed: false,
            read_here: false,
        }
    }

    /// Attempts one call may make: a sharded coupon may try each shard.
    fn attempts(&self) -> u32 {
        ATTEMPTS + 2 * self.seen.shards
    }

    /// Refusals the write would not notice, decided before it. The order's
    /// currency and amount never are: the write pins the terms they follow
    /// from. A sharded coupon's write checks only the terms' revision, so
    /// its other rules are checked here, on a fresh read before refusing.
    async fn refusal_before_writing(&mut self) -> StoreResult<()> {
        loop {
            // A reservation's use was held in the coupon it was made on; a
            // coupon created later under the same code has none of it (the
            // write's condition pins `created_at` to the reservation's).
            if let Take::Convert(held) = self.take
                && (held.coupon_created_at != self.seen.created_at
                    || held.shard.is_some() != (self.seen.shards > 0))
            {
                return Err(StoreError::Refused(Refusal::ReservationExpired));
            }
            match self.seen.refusal(self.now, self.redeem) {
                Some(refusal @ (Refusal::CurrencyMismatch | Refusal::BelowMinimumOrder)) => {
                    return Err(StoreError::Refused(refusal));
                }
                None | Some(Refusal::Exhausted) => return Ok(()),
                Some(_) if self.seen.shards == 0 => return Ok(()),
                Some(refusal) if self.read_here => return Err(StoreError::Refused(refusal)),
                Some(_) => self.read_again().await?,
            }
        }
    }

    async fn read_again(&mut self) -> StoreResult<()> {
        self.seen = self.store.read_again(self.tenant, &self.seen.code).await?;
        self.shards_with_uses = None;
        self.read_here = true;
        Ok(())
    }

    /// The conditional write that takes from the coupon or a shard (for a
    /// conversion, the shard the reservation holds its use in), and that
    /// shard. A conversion requires a held use there to redeem.
    fn write(&self) -> StoreResult<(TransactWriteItem, Option<u32>)> {
        let (seen, take, now) = (&self.seen, self.take, self.now);
        let (table, tenant) = (self.store.table(), self.tenant);
        let mut values = Item::from([
            (":now".into(), time(now)),
            (":one".into(), n(1)),
            (":zero".into(), n(0)),
        ]);
        if seen.shards == 0 {
            let mut condition =
                usable_condition(seen, self.redeem, take.needs_a_use(), now, &mut values);
            if !take.needs_a_use() {
                condition.push_str(" AND reserved_count > :zero");
            }
            let write = update(
                table,
                coupon_key(tenant, &seen.code),
                take.expression(),
                &condition,
                &[],
                values,
            )?;
            return Ok((write, None));
        }
        let shard = match (take, &self.shards_with_uses) {
            (Take::Convert(held), _) => held.shard.unwrap_or(0),
            (_, Some(shards)) if !shards.is_empty() => {
                shards[random_shard(shards.len() as u32) as usize]
            }
            _ => random_shard(seen.shards),
        };
        let mut condition = "created_at = :seen_created_at AND revision = :revision".to_owned();
        values.insert(":seen_created_at".into(), time(seen.created_at));
        values.insert(":revision".into(), n(seen.revision));
        condition.push_str(match take {
            Take::Convert(_) => " AND reserved_count > :zero",
            Take::Use | Take::Hold => " AND uses_left > :zero",
        });
        let write = update(
            table,
            shard_key(tenant, &seen.code, shard),
            take.expression(),
            &condition,
            &[],
            values,
        )?;
        Ok((write, Some(shard)))
    }

    /// After the write's condition failed (`current` is the coupon or shard
    /// as it was): ready for another attempt, or why the coupon cannot be
    /// used. A coupon that ran out while some of its uses sit in
    /// reservations gets the expired ones back first, once per call:
    /// whoever releases them, the uses are back for the next attempt.
    async fn after_failure(
        &mut self,
        current: Option<&Item>,
        shard: Option<u32>,
    ) -> StoreResult<()> {
        let Some(shard) = shard else {
            return self.after_coupon_failure(current).await;
        };
        match ShardState::of(&self.seen, current)? {
            // The shard the reservation names holds no use of this coupon.
            ShardState::Empty { reserved: false } if !self.take.needs_a_use() => {
                Err(StoreError::Refused(Refusal::ReservationExpired))
            }
            ShardState::Empty { reserved } if self.take.needs_a_use() => {
                let (with_uses, any_reserved) = match self.shards_with_uses.take() {
                    None => self.store.shards_with_uses(self.tenant, &self.seen).await?,
                    Some(mut shards) => {
                        shards.retain(|s| *s != shard);
                        (shards, reserved)
                    }
                };
                if !with_uses.is_empty() {
                    self.shards_with_uses = Some(with_uses);
                } else if any_reserved && !self.reclaimed {
                    self.reclaimed = true;
                    self.store
                        .reclaim_expired(self.tenant, &self.seen.code, self.now)
                        .await?;
                } else {
                    return Err(StoreError::Refused(Refusal::Exhausted));
                }
                Ok(())
            }
            _ => self.read_again().await,
        }
    }

    async fn after_coupon_failure(&mut self, current: Option<&Item>) -> StoreResult<()> {
        let Some(current) = current else {
            return Err(StoreError::NotFound);
        };
        let current = coupon_from(current)?;
        let seen = std::mem::replace(&mut self.seen, current);
        self.read_here = true;
        if self.seen.created_at != seen.created_at || self.seen.shards > 0 {
            // Deleted and created again under the same code since `seen`;
            // a sharded coupon's counts come from its shards.
            if self.seen.shards > 0 {
                self.read_again().await?;
            }
            return Ok(());
        }
        match self.seen.refusal(self.now, self.redeem) {
            // A conversion takes a held use, not a free one.
            Some(Refusal::Exhausted) | None if !self.take.needs_a_use() => {
                if self.seen.reserved_count == 0 {
                    Err(StoreError::Refused(Refusal::ReservationExpired))
                } else {
                    Ok(())
                }
            }
            Some(Refusal::Exhausted) if self.seen.reserved_count > 0 && !self.reclaimed => {
                self.reclaimed = true;
                self.store
                    .reclaim_expired(self.tenant, &self.seen.code, self.now)
                    .await?;
                Ok(())
            }
            Some(refusal) => Err(StoreError::Refused(refusal)),
            None => Ok(()),
        }
    }
}

impl RedemptionStore for DynamoStore {
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
        let table = self.table();
        let take = match reservation {
            Some(held) => Take::Convert(held),
            None => Take::Use,
        };
        let mut source = Source::new(self, tenant, request.seen, redeem, take, now);
        let mut attempt = 0;
        while attempt < source.attempts() {
            attempt += 1;
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
            let (write, shard) = source.write()?;
            let redemption = Redemption {
                redemption_id: Redemption::new_id(now),
                kind: RedemptionKind::Consume,
                reverses: None,
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
                consumed_at: now,
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
            let body = redemption.to_json(Some(after.uses_left)).to_string();

            let mut items = vec![
                write,
                put(
                    table,
                    redemption_item(tenant, &redemption),
                    "attribute_not_exists(PK)",
                    Item::new(),
                )?,
            ];
            let mut slots = Slots::default();
            if let Some((max, customer)) = &count_customer {
                slots.customer = Some(items.len());
                items.push(count_customer_use(table, tenant, seen, customer, *max)?);
            }
            if let Some(held) = reservation {
                slots.reservation = Some(items.len());
                items.push(update(
                    table,
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
                        (":code".into(), s(seen.code.as_str())),
                    ]),
                )?);
            }
            if let Some(idempotency) = idempotency {
                slots.idempotency = Some(items.len());
                items.push(idempotency_record(table, tenant, idempotency, &body, now)?);
            }

            let cancelled = self
                .transact(items, Some(&redemption.redemption_id))
                .await?;
            // Our row exists already: an earlier try of this very
            // transaction committed and only its answer was lost.
            let Some(cancelled) = cancelled.filter(|c| c.failed(Some(1)).is_none()) else {
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
                back_off(attempt).await;
                continue;
            }
            if let Some(held) = cancelled.failed(slots.reservation) {
                let held = held.map(reservation_from).transpose()?;
                return Err(match held {
                    Some(held) if held.code == source.seen.code => StoreError::Refused(
                        held.refusal(now).unwrap_or(Refusal::ReservationExpired),
                    ),
                    _ => StoreError::NotFound,
                });
            }
            if let Some(current) = cancelled.failed(Some(0)) {
                source.after_failure(current, shard).await?;
                continue;
            }
            if cancelled.failed(slots.customer).is_some() {
                return Err(StoreError::Refused(Refusal::CustomerLimitReached));
            }
            return Err(cancelled.unexplained("consume"));
        }
        Err(StoreError::Unavailable(
            "the coupon kept changing during consume".into(),
        ))
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

    async fn reserve(
        &self,
        tenant: &TenantId,
        seen: &Coupon,
        redeem: &Redeem,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<(Reservation, Coupon)> {
        let table = self.table();
        let mut source = Source::new(self, tenant, seen, redeem, Take::Hold, now);
        let mut attempt = 0;
        while attempt < source.attempts() {
            attempt += 1;
            source.refusal_before_writing().await?;
            let seen = &source.seen;
            let count_customer = seen.max_uses_per_customer.zip(redeem.customer_id.clone());
            let (write, shard) = source.write()?;
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
            let mut items = vec![
                write,
                put(
                    table,
                    reservation_item(tenant, &reservation),
                    "attribute_not_exists(PK)",
                    Item::new(),
                )?,
            ];
            let customer_slot = count_customer.as_ref().map(|_| items.len());
            if let Some((max, customer)) = &count_customer {
                items.push(count_customer_use(table, tenant, seen, customer, *max)?);
            }
            let cancelled = self
                .transact(items, Some(&reservation.reservation_id))
                .await?;
            // Our reservation exists already: an earlier try committed.
            let Some(cancelled) = cancelled.filter(|c| c.failed(Some(1)).is_none()) else {
                let after = Coupon {
                    uses_left: seen.uses_left.saturating_sub(1),
                    reserved_count: seen.reserved_count + 1,
                    updated_at: now,
                    ..seen.clone()
                };
                return Ok((reservation, after));
            };
            if cancelled.conflicted() {
                back_off(attempt).await;
                continue;
            }
            if let Some(current) = cancelled.failed(Some(0)) {
                source.after_failure(current, shard).await?;
                continue;
            }
            if cancelled.failed(customer_slot).is_some() {
                return Err(StoreError::Refused(Refusal::CustomerLimitReached));
            }
            return Err(cancelled.unexplained("reserve"));
        }
        Err(StoreError::Unavailable(
            "the coupon kept changing during reserve".into(),
        ))
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
        let table = self.table();
        // The use goes back to the coupon while it exists; once it is gone
        // the reservation is still released, with nothing to give back.
        let mut give_back = GiveBack::of_reservation(held);
        for attempt in 0..ATTEMPTS {
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
            let mut items = vec![update(
                table,
                (
                    reservation_pk(tenant, &held.reservation_id),
                    RESERVATION_SK.to_owned(),
                ),
                "SET #state = :released, released_at = :now REMOVE GSI1PK, GSI1SK",
                condition,
                &[("#state", "state")],
                values,
            )?];
            let slots = give_back.push(&mut items, table, tenant, now)?;
            let Some(cancelled) = self.transact(items, None).await? else {
                return Ok(true);
            };
            if let Some(current) = cancelled.failed(Some(0)) {
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
                back_off(attempt).await;
                continue;
            }
            if give_back.after(&cancelled, slots) {
                continue;
            }
            return Err(cancelled.unexplained("release"));
        }
        Err(StoreError::Unavailable(
            "the reservation kept changing during release".into(),
        ))
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

    async fn get_redemption(
        &self,
        tenant: &TenantId,
        redemption_id: &str,
    ) -> StoreResult<Option<Redemption>> {
        let Some(at) = Redemption::time_of_id(redemption_id) else {
            return Ok(None);
        };
        let (pk, sk) = redemption_key(tenant, at, redemption_id);
        let item = self.get(pk, &sk).await?;
        match item.as_ref().map(redemption_from).transpose()? {
            Some(row) if row.kind == RedemptionKind::Consume => Ok(Some(row)),
            _ => Ok(None),
        }
    }

    async fn roll_back(
        &self,
        tenant: &TenantId,
        original: &Redemption,
        now: DateTime<Utc>,
    ) -> StoreResult<(Redemption, bool)> {
        let table = self.table();
        let reversal = Redemption {
            redemption_id: Redemption::new_id(now),
            kind: RedemptionKind::Reversal,
            reverses: Some(original.redemption_id.clone()),
            reservation_id: None,
            consumed_at: now,
            ..original.clone()
        };
        let mut give_back = GiveBack::of_redemption(original);
        for attempt in 0..ATTEMPTS {
            let at = original.consumed_at;
            let mut items = vec![
                update(
                    table,
                    redemption_key(tenant, at, &original.redemption_id),
                    "SET rolled_back_by = :reversal, rolled_back_at = :now",
                    "attribute_exists(PK) AND attribute_not_exists(rolled_back_by)",
                    &[],
                    Item::from([
                        (":reversal".into(), s(&reversal.redemption_id)),
                        (":now".into(), time(now)),
                    ]),
                )?,
                put(
                    table,
                    redemption_item(tenant, &reversal),
                    "attribute_not_exists(PK)",
                    Item::new(),
                )?,
            ];
            let slots = give_back.push(&mut items, table, tenant, now)?;
            // A token per attempt: the attempts differ once the coupon is gone.
            let token = uuid::Uuid::new_v4().to_string();
            let cancelled = self.transact(items, Some(&token)).await?;
            // Our reversal row exists already: an earlier try committed.
            let Some(cancelled) = cancelled.filter(|c| c.failed(Some(1)).is_none()) else {
                return Ok((reversal, give_back.use_to_coupon));
            };
            if let Some(row) = cancelled.failed(Some(0)) {
                return Err(match row {
                    Some(_) => StoreError::Refused(Refusal::AlreadyRolledBack),
                    None => StoreError::NotFound,
                });
            }
            if cancelled.conflicted() {
                back_off(attempt).await;
                continue;
            }
            if give_back.after(&cancelled, slots) {
                continue;
            }
            return Err(cancelled.unexplained("rollback"));
        }
        Err(StoreError::Unavailable(
            "the redemption kept changing during rollback".into(),
        ))
    }

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

/// Expired reservations given back per look: enough for any checkout rush,
/// small enough to stay one quick Query.
const RECLAIM_BATCH: i32 = 25;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    #[test]
    fn the_consume_condition_checks_every_rule_and_term() {
        let now = crate::dates::now();
        let seen = Coupon {
            product_id: Some("apple123".into()),
            discount: Some(crate::coupon::Discount::Fixed(Money::from_minor(2_000))),
            currency: Some("EUR".into()),
            max_uses_per_customer: Some(2),
            ..Coupon::bare("ABCD", now)
        };
        let redeem = Redeem {
            product_id: Some("apple123".into()),
            ..Redeem::default()
        };
        let mut values = Item::new();
        let condition = usable_condition(&seen, &redeem, true, now, &mut values);
        assert_eq!(
            condition,
            "attribute_exists(PK) AND active = :true AND created_at = :seen_created_at \
             AND (attribute_not_exists(starts_at) OR starts_at <= :now) \
             AND (attribute_not_exists(expires_at) OR expires_at >= :expiry_second) \
             AND uses_left > :zero \
             AND (attribute_not_exists(product_id) OR product_id = :asked_product) \
             AND product_id = :seen_product_id AND attribute_not_exists(promo_type) \
             AND currency = :seen_currency AND discount_type = :seen_discount_type \
             AND discount_value = :seen_discount_value \
             AND attribute_not_exists(min_order_amount) \
             AND max_uses_per_customer = :seen_max_uses_per_customer"
        );
        let mut names: Vec<&str> = values.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                ":asked_product",
                ":expiry_second",
                ":seen_created_at",
                ":seen_currency",
                ":seen_discount_type",
                ":seen_discount_value",
                ":seen_max_uses_per_customer",
                ":seen_product_id",
                ":true",
            ]
        );
        assert_eq!(values[":seen_discount_value"], n(2_000));
    }
}
