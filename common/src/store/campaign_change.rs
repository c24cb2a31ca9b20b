//! A change of a campaign (its offer, `active`, budgets) as one
//! transaction on the campaign item and every budget shard.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::budget::budget_key;
use super::campaign_item::*;
use super::item::*;
use super::schema::*;
use super::transact::Transaction;
use super::{DynamoStore, StoreError, StoreResult};
use crate::campaign::Campaign;
use crate::metadata::Metadata;
use crate::money::Money;
use crate::tenant::TenantId;

/// Changes to a campaign. `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub product_id: Option<Option<String>>,
    pub product_ids: Option<Vec<String>>,
    pub promo_type: Option<Option<String>>,
    pub discount: Option<Option<crate::offer::Discount>>,
    pub currency: Option<Option<String>>,
    pub min_order_amount: Option<Option<Money>>,
    pub max_discount_amount: Option<Option<Money>>,
    pub max_uses_per_customer: Option<Option<u64>>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub active: Option<bool>,
    pub budget_uses: Option<Option<u64>>,
    pub budget_amount: Option<Option<Money>>,
    /// Replaces the campaign's metadata (empty: removes it).
    pub metadata: Option<Metadata>,
}

impl CampaignPatch {
    pub fn is_empty(&self) -> bool {
        *self == CampaignPatch::default()
    }

    /// `campaign` with this change.
    pub fn apply(&self, campaign: &Campaign) -> Campaign {
        fn set<T: Clone>(field: &mut T, change: &Option<T>) {
            if let Some(value) = change {
                *field = value.clone();
            }
        }
        let mut changed = campaign.clone();
        let offer = &mut changed.offer;
        set(&mut changed.name, &self.name);
        set(&mut offer.product_id, &self.product_id);
        set(&mut offer.product_ids, &self.product_ids);
        set(&mut offer.promo_type, &self.promo_type);
        set(&mut offer.discount, &self.discount);
        set(&mut offer.currency, &self.currency);
        set(&mut offer.min_order_amount, &self.min_order_amount);
        set(&mut offer.max_discount_amount, &self.max_discount_amount);
        set(
            &mut offer.max_uses_per_customer,
            &self.max_uses_per_customer,
        );
        set(&mut offer.starts_at, &self.starts_at);
        set(&mut offer.expires_at, &self.expires_at);
        set(&mut changed.active, &self.active);
        set(&mut changed.budget.uses, &self.budget_uses);
        set(&mut changed.budget.amount, &self.budget_amount);
        set(&mut changed.metadata, &self.metadata);
        changed
    }
}

impl DynamoStore {
    /// The transaction that turns `current` (with `shards` as read) into
    /// `changed`: the campaign item pinned to the revision read, and every
    /// shard bumped to the new revision. A budget change sets each shard's
    /// room to its share of what is left, pinned to the counts it was
    /// computed from.
    pub(super) fn campaign_change(
        &self,
        tenant: &TenantId,
        current: &Campaign,
        changed: &Campaign,
        shards: &[Option<BudgetShard>],
    ) -> StoreResult<Transaction> {
        let spent = current.spent.unwrap_or_default();
        let left =
            |field: &'static str, budget: Option<u64>, used: u64, show: fn(u64) -> String| {
                budget
                    .map(|budget| {
                        budget
                            .checked_sub(used)
                            .ok_or(StoreError::BudgetBelowSpent {
                                field,
                                asked: show(budget),
                                spent: show(used),
                            })
                    })
                    .transpose()
            };
        let budget_changed = changed.budget != current.budget;
        let uses_left = left(
            "budget_uses",
            changed.budget.uses,
            spent.redeemed_count + spent.held_uses,
            |n| n.to_string(),
        )?;
        let amount_left = left(
            "budget_amount",
            changed.budget.amount.map(Money::minor),
            spent.discount_total + spent.held_amount,
            |m| Money::from_minor(m).to_string(),
        )?;

        let mut tx = self.transaction();
        let (expression, values) = campaign_expression(changed);
        let mut values = values;
        values.insert(":seen_revision".into(), n(current.revision));
        tx.update(
            (campaign_pk(tenant, &current.id), CAMPAIGN_SK.to_owned()),
            &expression,
            "revision = :seen_revision",
            &[("#name", "name")],
            values,
        )?;
        let uses = room_shares(uses_left.unwrap_or(0), current.shards);
        let amounts = room_shares(amount_left.unwrap_or(0), current.shards);
        for (number, shard) in shards.iter().enumerate() {
            let shard = shard.as_ref().ok_or_else(|| StoreError::Corrupt {
                key: budget_shard_pk(tenant, &current.id, number as u32),
                what: "budget shard".into(),
            })?;
            let mut values = Item::from([
                (":seen_revision".into(), n(current.revision)),
                (":revision".into(), n(changed.revision)),
            ]);
            let (expression, condition) = if budget_changed {
                values.extend([
                    (
                        ":limits_uses".into(),
                        AttributeValue::Bool(changed.budget.uses.is_some()),
                    ),
                    (
                        ":limits_amount".into(),
                        AttributeValue::Bool(changed.budget.amount.is_some()),
                    ),
                    (":uses_left".into(), n(uses[number])),
                    (":amount_left".into(), n(amounts[number])),
                    (":redeemed".into(), n(shard.redeemed_count)),
                    (":held_uses".into(), n(shard.held_uses)),
                    (":discount_total".into(), n(shard.discount_total)),
                    (":held_amount".into(), n(shard.held_amount)),
                ]);
                (
                    "SET revision = :revision, limits_uses = :limits_uses, \
                     limits_amount = :limits_amount, uses_left = :uses_left, \
                     amount_left = :amount_left",
                    "revision = :seen_revision AND redeemed_count = :redeemed \
                     AND held_uses = :held_uses AND discount_total = :discount_total \
                     AND held_amount = :held_amount",
                )
            } else {
                ("SET revision = :revision", "revision = :seen_revision")
            };
            tx.update(
                budget_key(tenant, &current.id, number as u32),
                expression,
                condition,
                &[],
                values,
            )?;
        }
        Ok(tx)
    }
}

/// The update of a campaign item to `changed`: every offer and budget
/// attribute set or removed, so the item says exactly what `changed` does.
fn campaign_expression(changed: &Campaign) -> (String, Item) {
    let mut set = vec![
        "#name = :name".to_owned(),
        "active = :active".to_owned(),
        "revision = :revision".to_owned(),
        "updated_at = :now".to_owned(),
    ];
    let mut remove = Vec::new();
    let mut values = Item::from([
        (":name".to_owned(), s(&changed.name)),
        (":active".to_owned(), AttributeValue::Bool(changed.active)),
        (":revision".to_owned(), n(changed.revision)),
        (":now".to_owned(), time(changed.updated_at)),
    ]);
    let metadata = ("metadata", metadata_attr(&changed.metadata));
    for (name, value) in offer_attrs(&changed.offer, &changed.budget)
        .into_iter()
        .chain([metadata])
    {
        match value {
            Some(value) => {
                set.push(format!("{name} = :{name}"));
                values.insert(format!(":{name}"), value);
            }
            None => remove.push(name),
        }
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    (expression, values)
}
