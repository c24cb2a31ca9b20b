//! The redemption log's rows to DynamoDB items and back: a row in its day
//! partition, with its keys in the log's indexes (by code, customer and
//! campaign).

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use super::item::*;
use super::schema::*;
use crate::coupon::{Pricing, Redemption, RedemptionKind};
use crate::money::Money;
use crate::tenant::TenantId;

pub fn redemption_item(tenant: &TenantId, redemption: &Redemption) -> Item {
    let at = redemption.consumed_at;
    let (pk, sk) = redemption_key(tenant, at, &redemption.redemption_id);
    let shard = log_shard(&redemption.redemption_id);
    let mut indexes = vec![LogIndex::Code(redemption.code.clone())];
    indexes.extend(redemption.customer_id.clone().map(LogIndex::Customer));
    indexes.extend(
        redemption
            .campaign
            .as_ref()
            .map(|c| LogIndex::Campaign(c.campaign_id.clone())),
    );
    let mut item = Item::from([
        (PK.into(), s(pk)),
        (SK.into(), s(&sk)),
        ("type".into(), s("redemption")),
        ("tenant_id".into(), s(tenant.as_str())),
        ("redemption_id".into(), s(&redemption.redemption_id)),
        ("kind".into(), s(redemption.kind.as_str())),
        ("code".into(), s(redemption.code.as_str())),
        (
            "coupon_created_at".into(),
            time(redemption.coupon_created_at),
        ),
        ("consumed_at".into(), time(at)),
    ]);
    // Each index sorts the row by its table sort key.
    item.extend(indexes.iter().flat_map(|index| {
        let (_, index_pk, index_sk) = index.index();
        [
            (index_pk.to_owned(), s(index.pk(tenant, shard))),
            (index_sk.to_owned(), s(&sk)),
        ]
    }));
    insert_optional(&mut item, "reverses", redemption.reverses.clone().map(s));
    insert_optional(
        &mut item,
        "customer_id",
        redemption.customer_id.clone().map(s),
    );
    if redemption.counted_for_customer {
        item.insert("counted_for_customer".into(), AttributeValue::Bool(true));
    }
    insert_optional(
        &mut item,
        "reservation_id",
        redemption.reservation_id.clone().map(s),
    );
    insert_optional(&mut item, "shard", redemption.shard.map(n));
    insert_budget_taken(&mut item, &redemption.campaign);
    if let Some(pricing) = &redemption.pricing {
        item.insert("order_amount".into(), n(pricing.order_amount.minor()));
        item.insert("discount_amount".into(), n(pricing.discount_amount.minor()));
        insert_optional(&mut item, "order_currency", pricing.currency.clone().map(s));
    }
    insert_terms(
        &mut item,
        &redemption.product_id,
        &redemption.promo_type,
        &redemption.currency,
        redemption.discount,
    );
    insert_metadata(&mut item, &redemption.metadata);
    item
}

pub fn redemption_from(item: &Item) -> Result<Redemption, StoreError> {
    let pricing = match (get_n(item, "order_amount"), get_n(item, "discount_amount")) {
        (Some(order), Some(discount)) => Some(Pricing {
            order_amount: Money::from_minor(order),
            discount_amount: Money::from_minor(discount),
            currency: get_s(item, "order_currency").map(str::to_owned),
        }),
        _ => None,
    };
    Ok(Redemption {
        redemption_id: req(item, get_s(item, "redemption_id"), "redemption_id")?.to_owned(),
        // Rows written before reversals existed are all consumes.
        kind: match get_s(item, "kind") {
            None => RedemptionKind::Consume,
            Some(kind) => RedemptionKind::parse(kind).ok_or_else(|| corrupt(item, "kind"))?,
        },
        reverses: get_s(item, "reverses").map(str::to_owned),
        rolled_back_by: get_s(item, "rolled_back_by").map(str::to_owned),
        code: code_of(item)?,
        coupon_created_at: req_time(item, "coupon_created_at")?,
        product_id: get_s(item, "product_id").map(str::to_owned),
        promo_type: get_s(item, "promo_type").map(str::to_owned),
        discount: discount_of(item)?,
        currency: get_s(item, "currency").map(str::to_owned),
        customer_id: get_s(item, "customer_id").map(str::to_owned),
        counted_for_customer: get_flag(item, "counted_for_customer"),
        pricing,
        reservation_id: get_s(item, "reservation_id").map(str::to_owned),
        shard: get_n(item, "shard"),
        campaign: budget_taken_of(item)?,
        consumed_at: req_time(item, "consumed_at")?,
        metadata: metadata_of(item)?,
    })
}
