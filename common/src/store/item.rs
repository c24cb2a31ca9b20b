//! Domain values to DynamoDB items and back. Times are epoch milliseconds
//! (numbers), so condition expressions can compare them with "now".

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use super::StoreError;
use super::schema::*;
use crate::campaign::{BudgetTaken, CampaignId};
use crate::code::CouponCode;
use crate::coupon::{Coupon, Reservation, ReservationState, shard_shares};
use crate::dates::{from_millis, to_millis};
use crate::event::Event;
use crate::metadata::Metadata;
use crate::money::{Money, Percent};
use crate::offer::Discount;
use crate::tenant::TenantId;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
pub fn time(value: DateTime<Utc>) -> AttributeValue {
    n(to_millis(value))
}

/// An item this code cannot read: a fault of the service (or of whoever
/// wrote the item), not of the request, and not one a retry mends.
pub(super) fn corrupt(item: &Item, what: &str) -> StoreError {
    let key = |name: &str| get_s(item, name).unwrap_or("?").to_owned();
    StoreError::Corrupt {
        key: format!("{}/{}", key(PK), key(SK)),
        what: what.to_owned(),
    }
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
pub(super) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
pub(super) fn get_time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    get_n(item, name).map(from_millis)
}
/// A boolean attribute that is written only when true.
pub(super) fn get_flag(item: &Item, name: &str) -> bool {
    item.get(name)
        .is_some_and(|v| v.as_bool().is_ok_and(|b| *b))
}
pub(super) fn req<T>(item: &Item, value: Option<T>, name: &str) -> Result<T, StoreError> {
    value.ok_or_else(|| corrupt(item, name))
}
pub(super) fn req_bool(item: &Item, name: &str) -> Result<bool, StoreError> {
    req(
        item,
        item.get(name).and_then(|v| v.as_bool().ok()).copied(),
        name,
    )
}
pub(super) fn req_time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    req(item, get_time(item, name), name)
}
/// The item's `code`, which every coupon, row and reservation carries.
pub(super) fn code_of(item: &Item) -> Result<CouponCode, StoreError> {
    CouponCode::parse(req(item, get_s(item, "code"), "code")?).map_err(|_| corrupt(item, "code"))
}

pub fn discount_attrs(discount: Discount) -> (AttributeValue, AttributeValue) {
    match discount {
        Discount::Fixed(money) => (s("fixed"), n(money.minor())),
        Discount::Percent(percent) => (s("percent"), n(percent.hundredths())),
    }
}

pub(super) fn discount_of(item: &Item) -> Result<Option<Discount>, StoreError> {
    match (
        get_s(item, "discount_type"),
        get_n::<u64>(item, "discount_value"),
    ) {
        (None, _) => Ok(None),
        (Some("fixed"), Some(v)) => Ok(Some(Discount::Fixed(Money::from_minor(v)))),
        (Some("percent"), Some(v)) => {
            Ok(Some(Discount::Percent(Percent::from_hundredths(v as u32))))
        }
        _ => Err(corrupt(item, "discount")),
    }
}

pub fn coupon_item(tenant: &TenantId, coupon: &Coupon) -> Item {
    let mut item = Item::from([
        (PK.into(), s(coupon_pk(tenant, &coupon.code))),
        (SK.into(), s(COUPON_SK)),
        (GSI1PK.into(), s(coupons_gsi1pk(tenant))),
        (GSI1SK.into(), s(coupon.code.as_str())),
        ("type".into(), s("coupon")),
        ("code".into(), s(coupon.code.as_str())),
        ("active".into(), AttributeValue::Bool(coupon.active)),
        ("created_at".into(), time(coupon.created_at)),
        ("updated_at".into(), time(coupon.updated_at)),
    ]);
    if coupon.shards > 0 {
        // The counts live in the shards.
        item.insert("shards".into(), n(coupon.shards));
        item.insert("revision".into(), n(coupon.revision));
    } else {
        item.insert("uses_left".into(), n(coupon.uses_left));
        item.insert("redeemed_count".into(), n(coupon.redeemed_count));
        item.insert("reserved_count".into(), n(coupon.reserved_count));
    }
    insert_metadata(&mut item, &coupon.metadata);
    let gsi3pk = match (&coupon.owner, &coupon.campaign_id) {
        (Some(owner), _) => Some(owner_gsi3pk(tenant, owner)),
        (None, Some(campaign)) if coupon.in_pool() => Some(pool_gsi3pk(tenant, campaign)),
        _ => None,
    };
    if let Some(gsi3pk) = gsi3pk {
        item.insert(GSI3PK.into(), s(gsi3pk));
        item.insert(GSI3SK.into(), s(coupon.code.as_str()));
    }
    insert_optional(&mut item, "customer_id", coupon.owner.clone().map(s));
    if let Some(campaign) = &coupon.campaign_id {
        // A campaign code takes its terms from the campaign, read with it.
        item.insert("campaign_id".into(), s(campaign.as_str()));
        item.insert(GSI2PK.into(), s(campaign_codes_gsi2pk(tenant, campaign)));
        item.insert(GSI2SK.into(), s(coupon.code.as_str()));
        return item;
    }
    insert_optional(&mut item, "starts_at", coupon.starts_at.map(time));
    insert_optional(&mut item, "expires_at", coupon.expires_at.map(time));
    insert_optional(
        &mut item,
        "min_order_amount",
        coupon.min_order_amount.map(|m| n(m.minor())),
    );
    insert_optional(
        &mut item,
        "max_uses_per_customer",
        coupon.max_uses_per_customer.map(n),
    );
    insert_terms(
        &mut item,
        &coupon.product_id,
        &coupon.promo_type,
        &coupon.currency,
        coupon.discount,
    );
    item
}

/// The campaign a coupon item belongs to, if any.
pub fn campaign_id_of(item: &Item) -> Result<Option<CampaignId>, StoreError> {
    get_s(item, "campaign_id")
        .map(|id| CampaignId::parse(id).map_err(|_| corrupt(item, "campaign_id")))
        .transpose()
}

pub(super) fn insert_budget_taken(item: &mut Item, taken: &Option<BudgetTaken>) {
    if let Some(taken) = taken {
        item.insert("campaign_id".into(), s(taken.campaign_id.as_str()));
        item.insert("budget_shard".into(), n(taken.shard));
        item.insert("budget_amount".into(), n(taken.amount.minor()));
    }
}

pub(super) fn budget_taken_of(item: &Item) -> Result<Option<BudgetTaken>, StoreError> {
    let Some(campaign_id) = campaign_id_of(item)? else {
        return Ok(None);
    };
    Ok(Some(BudgetTaken {
        campaign_id,
        shard: req(item, get_n(item, "budget_shard"), "budget_shard")?,
        amount: Money::from_minor(req(item, get_n(item, "budget_amount"), "budget_amount")?),
    }))
}

/// Metadata as a map of strings, left out when empty.
pub(super) fn insert_metadata(item: &mut Item, metadata: &Metadata) {
    insert_optional(item, "metadata", metadata_attr(metadata));
}

/// The `metadata` map an update sets (`None`: the update removes it).
pub(super) fn metadata_attr(metadata: &Metadata) -> Option<AttributeValue> {
    (!metadata.is_empty()).then(|| {
        AttributeValue::M(
            metadata
                .iter()
                .map(|(key, value)| (key.clone(), s(value)))
                .collect(),
        )
    })
}

pub(super) fn metadata_of(item: &Item) -> Result<Metadata, StoreError> {
    let Some(map) = item.get("metadata") else {
        return Ok(Metadata::default());
    };
    let map = map.as_m().map_err(|_| corrupt(item, "metadata"))?;
    let pairs = map
        .iter()
        .map(|(key, value)| {
            Ok((
                key.clone(),
                value.as_s().map_err(|_| corrupt(item, "metadata"))?.clone(),
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Metadata::from_stored(pairs))
}

pub(super) fn insert_optional(item: &mut Item, name: &str, value: Option<AttributeValue>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), value);
    }
}

/// The terms a coupon carries and each of its redemptions copies.
pub(super) fn insert_terms(
    item: &mut Item,
    product_id: &Option<String>,
    promo_type: &Option<String>,
    currency: &Option<String>,
    discount: Option<Discount>,
) {
    insert_optional(item, "product_id", product_id.clone().map(s));
    insert_optional(item, "promo_type", promo_type.clone().map(s));
    insert_optional(item, "currency", currency.clone().map(s));
    if let Some((kind, value)) = discount.map(discount_attrs) {
        item.insert("discount_type".into(), kind);
        item.insert("discount_value".into(), value);
    }
}

/// The counter shards of a new `high_demand` coupon, its uses spread over them.
pub fn shard_items(tenant: &TenantId, coupon: &Coupon) -> Vec<Item> {
    shard_shares(coupon.uses_left, coupon.shards)
        .into_iter()
        .enumerate()
        .map(|(shard, uses_left)| {
            Item::from([
                (PK.into(), s(shard_pk(tenant, &coupon.code, shard as u32))),
                (SK.into(), s(SHARD_SK)),
                ("type".into(), s("coupon_shard")),
                ("code".into(), s(coupon.code.as_str())),
                // The coupon's, so a shard left by a deleted coupon never
                // serves one created later under its code.
                ("created_at".into(), time(coupon.created_at)),
                ("revision".into(), n(coupon.revision)),
                ("uses_left".into(), n(uses_left)),
                ("redeemed_count".into(), n(0)),
                ("reserved_count".into(), n(0)),
            ])
        })
        .collect()
}

/// One shard's counts: uses left, redeemed, reserved.
pub fn shard_counts(item: &Item) -> Result<[u64; 3], StoreError> {
    Ok([
        req(item, get_n(item, "uses_left"), "uses_left")?,
        req(item, get_n(item, "redeemed_count"), "redeemed_count")?,
        req(item, get_n(item, "reserved_count"), "reserved_count")?,
    ])
}

/// A shard's coupon creation time and terms revision, which a consume
/// through it must match.
pub fn shard_identity(item: &Item) -> (Option<DateTime<Utc>>, Option<u64>) {
    (get_time(item, "created_at"), get_n(item, "revision"))
}

/// A coupon item; a sharded coupon's counts are zero until the store adds
/// up its shards.
pub fn coupon_from(item: &Item) -> Result<Coupon, StoreError> {
    let shards = get_n(item, "shards").unwrap_or(0);
    let count = |name| match get_n(item, name) {
        Some(count) => Ok(count),
        None if shards > 0 => Ok(0),
        None => Err(corrupt(item, name)),
    };
    Ok(Coupon {
        code: code_of(item)?,
        product_id: get_s(item, "product_id").map(str::to_owned),
        promo_type: get_s(item, "promo_type").map(str::to_owned),
        discount: discount_of(item)?,
        currency: get_s(item, "currency").map(str::to_owned),
        min_order_amount: get_n(item, "min_order_amount").map(Money::from_minor),
        max_uses_per_customer: get_n(item, "max_uses_per_customer"),
        uses_left: count("uses_left")?,
        redeemed_count: count("redeemed_count")?,
        reserved_count: get_n(item, "reserved_count").unwrap_or(0),
        shards,
        revision: get_n(item, "revision").unwrap_or(0),
        starts_at: get_time(item, "starts_at"),
        expires_at: get_time(item, "expires_at"),
        active: req_bool(item, "active")?,
        created_at: req_time(item, "created_at")?,
        updated_at: req_time(item, "updated_at")?,
        campaign_id: campaign_id_of(item)?,
        campaign: None,
        metadata: metadata_of(item)?,
        owner: get_s(item, "customer_id").map(str::to_owned),
    })
}

/// How long an event's marker is kept: longer than the stream keeps a
/// record (24 hours), so no replay outlives it.
const EVENT_MARKER_TTL: Duration = Duration::days(2);

/// The mark of an event handed on; it expires after the stream's records.
pub(super) fn event_marker_item(event: &Event, now: DateTime<Utc>) -> Item {
    Item::from([
        (PK.into(), s(event_marker_pk(&event.tenant, &event.id))),
        (SK.into(), s(EVENT_MARKER_SK)),
        ("type".into(), s("event_marker")),
        ("event_type".into(), s(event.kind.as_str())),
        (EXPIRES_TTL.into(), n((now + EVENT_MARKER_TTL).timestamp())),
    ])
}

/// A held reservation is in its coupon's GSI1 partition of held uses,
/// sorted by expiry, so expired ones are found with one Query; it leaves
/// the index once consumed or released.
pub fn reservation_item(tenant: &TenantId, reservation: &Reservation) -> Item {
    let mut item = Item::from([
        (
            PK.into(),
            s(reservation_pk(tenant, &reservation.reservation_id)),
        ),
        (SK.into(), s(RESERVATION_SK)),
        (GSI1PK.into(), s(held_gsi1pk(tenant, &reservation.code))),
        (GSI1SK.into(), s(held_gsi1sk(reservation))),
        ("type".into(), s("reservation")),
        ("reservation_id".into(), s(&reservation.reservation_id)),
        ("code".into(), s(reservation.code.as_str())),
        (
            "coupon_created_at".into(),
            time(reservation.coupon_created_at),
        ),
        ("state".into(), s(reservation.state.as_str())),
        ("created_at".into(), time(reservation.created_at)),
        ("expires_at".into(), time(reservation.expires_at)),
        // Kept a week past expiry for support questions, then TTL removes it.
        (
            EXPIRES_TTL.into(),
            n(reservation.expires_at.timestamp() + RESERVATION_KEPT_SECS),
        ),
    ]);
    insert_optional(
        &mut item,
        "customer_id",
        reservation.customer_id.clone().map(s),
    );
    if reservation.counted_for_customer {
        item.insert("counted_for_customer".into(), AttributeValue::Bool(true));
    }
    insert_optional(&mut item, "shard", reservation.shard.map(n));
    insert_budget_taken(&mut item, &reservation.campaign);
    item
}

pub fn reservation_from(item: &Item) -> Result<Reservation, StoreError> {
    Ok(Reservation {
        reservation_id: req(item, get_s(item, "reservation_id"), "reservation_id")?.to_owned(),
        code: code_of(item)?,
        coupon_created_at: req_time(item, "coupon_created_at")?,
        customer_id: get_s(item, "customer_id").map(str::to_owned),
        counted_for_customer: get_flag(item, "counted_for_customer"),
        shard: get_n(item, "shard"),
        campaign: budget_taken_of(item)?,
        state: get_s(item, "state")
            .and_then(ReservationState::parse)
            .ok_or_else(|| corrupt(item, "state"))?,
        created_at: req_time(item, "created_at")?,
        expires_at: req_time(item, "expires_at")?,
    })
}
