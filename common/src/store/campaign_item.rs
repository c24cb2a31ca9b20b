//! Campaign items to DynamoDB and back: the campaign (its offer in the
//! attributes a coupon's terms use) and its budget shards.

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use super::item::*;
use super::schema::*;
use crate::campaign::{Budget, Campaign, CampaignId, Offer};
use crate::coupon::shard_shares;
use crate::money::Money;
use crate::tenant::TenantId;

/// A campaign item: its offer (the same attributes a coupon's terms use),
/// budget and counts of codes. What it has spent lives in its shards.
pub fn campaign_item(tenant: &TenantId, campaign: &Campaign) -> Item {
    let offer = &campaign.offer;
    let mut item = Item::from([
        (PK.into(), s(campaign_pk(tenant, &campaign.id))),
        (SK.into(), s(CAMPAIGN_SK)),
        (GSI1PK.into(), s(campaigns_gsi1pk(tenant))),
        (GSI1SK.into(), s(campaign.id.as_str())),
        ("type".into(), s("campaign")),
        ("campaign_id".into(), s(campaign.id.as_str())),
        ("name".into(), s(&campaign.name)),
        ("active".into(), AttributeValue::Bool(campaign.active)),
        ("revision".into(), n(campaign.revision)),
        ("shards".into(), n(campaign.shards)),
        ("coupon_count".into(), n(campaign.coupon_count)),
        ("created_at".into(), time(campaign.created_at)),
        ("updated_at".into(), time(campaign.updated_at)),
    ]);
    for (name, value) in offer_attrs(offer, &campaign.budget) {
        insert_optional(&mut item, name, value);
    }
    insert_metadata(&mut item, &campaign.metadata);
    item
}

/// The attributes of an offer and budget, `None` where a term is not set.
pub fn offer_attrs(offer: &Offer, budget: &Budget) -> [(&'static str, Option<AttributeValue>); 13] {
    let discount = offer.discount.map(discount_attrs);
    [
        ("product_id", offer.product_id.clone().map(s)),
        (
            "product_ids",
            (!offer.product_ids.is_empty())
                .then(|| AttributeValue::L(offer.product_ids.iter().map(s).collect())),
        ),
        ("promo_type", offer.promo_type.clone().map(s)),
        ("currency", offer.currency.clone().map(s)),
        ("discount_type", discount.clone().map(|(kind, _)| kind)),
        ("discount_value", discount.map(|(_, value)| value)),
        (
            "min_order_amount",
            offer.min_order_amount.map(|m| n(m.minor())),
        ),
        (
            "max_discount_amount",
            offer.max_discount_amount.map(|m| n(m.minor())),
        ),
        ("max_uses_per_customer", offer.max_uses_per_customer.map(n)),
        ("starts_at", offer.starts_at.map(time)),
        ("expires_at", offer.expires_at.map(time)),
        ("budget_uses", budget.uses.map(n)),
        ("budget_amount", budget.amount.map(|m| n(m.minor()))),
    ]
}

pub fn campaign_from(item: &Item) -> Result<Campaign, StoreError> {
    let product_ids = match item.get("product_ids") {
        None => Vec::new(),
        Some(list) => list
            .as_l()
            .map_err(|_| corrupt(item, "product_ids"))?
            .iter()
            .map(|v| v.as_s().cloned().map_err(|_| corrupt(item, "product_ids")))
            .collect::<Result<_, _>>()?,
    };
    Ok(Campaign {
        id: CampaignId::parse(req(item, get_s(item, "campaign_id"), "campaign_id")?)
            .map_err(|_| corrupt(item, "campaign_id"))?,
        name: req(item, get_s(item, "name"), "name")?.to_owned(),
        offer: Offer {
            product_id: get_s(item, "product_id").map(str::to_owned),
            product_ids,
            promo_type: get_s(item, "promo_type").map(str::to_owned),
            discount: discount_of(item)?,
            currency: get_s(item, "currency").map(str::to_owned),
            min_order_amount: get_n(item, "min_order_amount").map(Money::from_minor),
            max_discount_amount: get_n(item, "max_discount_amount").map(Money::from_minor),
            max_uses_per_customer: get_n(item, "max_uses_per_customer"),
            starts_at: get_time(item, "starts_at"),
            expires_at: get_time(item, "expires_at"),
        },
        active: req_bool(item, "active")?,
        budget: Budget {
            uses: get_n(item, "budget_uses"),
            amount: get_n(item, "budget_amount").map(Money::from_minor),
        },
        revision: req(item, get_n(item, "revision"), "revision")?,
        shards: req(item, get_n(item, "shards"), "shards")?,
        coupon_count: req(item, get_n(item, "coupon_count"), "coupon_count")?,
        spent: None,
        created_at: req_time(item, "created_at")?,
        updated_at: req_time(item, "updated_at")?,
        metadata: metadata_of(item)?,
    })
}

/// One budget shard as stored. `uses_left` and `amount_left` are kept
/// for every shard and may go below zero where the campaign has no such
/// budget (`limits_*` false): a budget set later starts from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetShard {
    pub revision: u64,
    pub limits_uses: bool,
    pub limits_amount: bool,
    pub uses_left: i64,
    pub amount_left: i64,
    pub redeemed_count: u64,
    pub discount_total: u64,
    pub held_uses: u64,
    pub held_amount: u64,
}

pub fn budget_shard_from(item: &Item) -> Result<BudgetShard, StoreError> {
    Ok(BudgetShard {
        revision: req(item, get_n(item, "revision"), "revision")?,
        limits_uses: get_flag(item, "limits_uses"),
        limits_amount: get_flag(item, "limits_amount"),
        uses_left: req(item, get_n(item, "uses_left"), "uses_left")?,
        amount_left: req(item, get_n(item, "amount_left"), "amount_left")?,
        redeemed_count: req(item, get_n(item, "redeemed_count"), "redeemed_count")?,
        discount_total: req(item, get_n(item, "discount_total"), "discount_total")?,
        held_uses: req(item, get_n(item, "held_uses"), "held_uses")?,
        held_amount: req(item, get_n(item, "held_amount"), "held_amount")?,
    })
}

/// A budget's room spread over `shards` as evenly as whole numbers go.
pub fn room_shares(total: u64, shards: u32) -> Vec<i64> {
    shard_shares(total, shards)
        .into_iter()
        .map(|share| share as i64)
        .collect()
}

/// The budget shards of a new campaign, each budget split evenly.
pub fn budget_shard_items(tenant: &TenantId, campaign: &Campaign) -> Vec<Item> {
    let uses = room_shares(campaign.budget.uses.unwrap_or(0), campaign.shards);
    let amount = room_shares(
        campaign.budget.amount.map_or(0, Money::minor),
        campaign.shards,
    );
    (0..campaign.shards as usize)
        .map(|shard| {
            Item::from([
                (
                    PK.into(),
                    s(budget_shard_pk(tenant, &campaign.id, shard as u32)),
                ),
                (SK.into(), s(BUDGET_SHARD_SK)),
                ("type".into(), s("campaign_budget_shard")),
                ("campaign_id".into(), s(campaign.id.as_str())),
                ("revision".into(), n(campaign.revision)),
                (
                    "limits_uses".into(),
                    AttributeValue::Bool(campaign.budget.uses.is_some()),
                ),
                (
                    "limits_amount".into(),
                    AttributeValue::Bool(campaign.budget.amount.is_some()),
                ),
                ("uses_left".into(), n(uses[shard])),
                ("amount_left".into(), n(amount[shard])),
                ("redeemed_count".into(), n(0)),
                ("discount_total".into(), n(0)),
                ("held_uses".into(), n(0)),
                ("held_amount".into(), n(0)),
            ])
        })
        .collect()
}
