//! A campaign's budget shards: where its codes' consumes and reservations
//! spend, and where rollbacks and releases give back. Every consume of a
//! campaign code writes one shard in the same `TransactWriteItems` as the
//! coupon's use and the log row, conditional on the campaign's terms
//! revision and (where the campaign has a budget) on the shard having
//! room; no write ever takes a count below zero. The campaign item is
//! never written by a consume, so a campaign is not one hot item.

use super::campaign_item::*;
use super::item::*;
use super::schema::*;
use super::transact::{Key, Slot, Transaction};
use super::{DynamoStore, StoreError, StoreResult};
use crate::campaign::{BudgetTaken, CampaignId, CampaignLink};
use crate::money::Money;
use crate::refusal::Refusal;
use crate::tenant::TenantId;

/// How a use given back was counted where it was taken: as redeemed (a
/// rollback gives it back) or as held (a release does). For the coupon
/// (see `release::GiveBack`) and its campaign's budget alike.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Counted {
    Redeemed,
    Reserved,
}

pub(super) fn budget_key(tenant: &TenantId, campaign: &CampaignId, shard: u32) -> Key {
    (
        budget_shard_pk(tenant, campaign, shard),
        BUDGET_SHARD_SK.to_owned(),
    )
}

/// What a consume or reservation takes from a budget shard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Spend {
    /// A use and its discount, redeemed now.
    Use { amount: Money },
    /// A use and its discount, held by a new reservation.
    Hold { amount: Money },
    /// A reservation's held use and discount (`held`), redeemed now with
    /// the discount the order gets (`amount`): the difference goes back to
    /// (or, if more, comes from) the shard's room.
    Convert { held: Money, amount: Money },
}

impl Spend {
    /// What the shard must have room for beyond what it holds already.
    fn needs(self) -> (i64, i64) {
        match self {
            Spend::Use { amount } | Spend::Hold { amount } => (1, amount.minor() as i64),
            Spend::Convert { held, amount } => {
                (0, (amount.minor() as i64 - held.minor() as i64).max(0))
            }
        }
    }

    /// The amount counted against the budget for this use.
    pub(super) fn amount(self) -> Money {
        match self {
            Spend::Use { amount } | Spend::Hold { amount } | Spend::Convert { amount, .. } => {
                amount
            }
        }
    }
}

/// Pushes the write that spends `spend` from shard `shard` of the campaign
/// `link` describes, conditional on the campaign's terms being those read
/// (`revision`) and on room for it where a budget limits it.
pub(super) fn push_spend(
    tx: &mut Transaction,
    tenant: &TenantId,
    campaign: &CampaignId,
    link: &CampaignLink,
    shard: u32,
    spend: Spend,
) -> StoreResult<Slot> {
    let mut values = Item::from([
        (":revision".into(), n(link.revision)),
        (":one".into(), n(1)),
    ]);
    let mut condition = "revision = :revision".to_owned();
    let (uses_needed, amount_needed) = spend.needs();
    if link.budget.uses.is_some() && uses_needed > 0 {
        condition.push_str(" AND uses_left >= :one");
    }
    if link.budget.amount.is_some() && amount_needed > 0 {
        condition.push_str(" AND amount_left >= :amount_needed");
        values.insert(":amount_needed".into(), n(amount_needed));
    }
    let expression = match spend {
        Spend::Use { amount } => {
            values.insert(":amount".into(), n(amount.minor()));
            "SET uses_left = uses_left - :one, amount_left = amount_left - :amount, \
             redeemed_count = redeemed_count + :one, discount_total = discount_total + :amount"
        }
        Spend::Hold { amount } => {
            values.insert(":amount".into(), n(amount.minor()));
            "SET uses_left = uses_left - :one, amount_left = amount_left - :amount, \
             held_uses = held_uses + :one, held_amount = held_amount + :amount"
        }
        Spend::Convert { held, amount } => {
            condition.push_str(" AND held_uses >= :one AND held_amount >= :held");
            values.insert(":held".into(), n(held.minor()));
            values.insert(":amount".into(), n(amount.minor()));
            values.insert(
                ":refund".into(),
                n(held.minor() as i64 - amount.minor() as i64),
            );
            "SET held_uses = held_uses - :one, held_amount = held_amount - :held, \
             redeemed_count = redeemed_count + :one, discount_total = discount_total + :amount, \
             amount_left = amount_left + :refund"
        }
    };
    tx.update(
        budget_key(tenant, campaign, shard),
        expression,
        &condition,
        &[],
        values,
    )
}

/// Pushes the write that gives back what `taken` took, if the campaign
/// still exists and still counts it (never below zero).
pub(super) fn push_give_back(
    tx: &mut Transaction,
    tenant: &TenantId,
    taken: &BudgetTaken,
    counted: Counted,
) -> StoreResult<Slot> {
    let (expression, condition) = match counted {
        Counted::Redeemed => (
            "SET uses_left = uses_left + :one, amount_left = amount_left + :amount, \
             redeemed_count = redeemed_count - :one, discount_total = discount_total - :amount",
            "attribute_exists(PK) AND redeemed_count >= :one AND discount_total >= :amount",
        ),
        Counted::Reserved => (
            "SET uses_left = uses_left + :one, amount_left = amount_left + :amount, \
             held_uses = held_uses - :one, held_amount = held_amount - :amount",
            "attribute_exists(PK) AND held_uses >= :one AND held_amount >= :amount",
        ),
    };
    tx.update(
        budget_key(tenant, &taken.campaign_id, taken.shard),
        expression,
        condition,
        &[],
        Item::from([
            (":one".into(), n(1)),
            (":amount".into(), n(taken.amount.minor())),
        ]),
    )
}

impl DynamoStore {
    /// Every budget shard of a campaign, by shard number (`None` where
    /// missing), and the campaign item with them, in one read.
    pub(super) async fn read_budget(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        shards: u32,
    ) -> StoreResult<(Option<Item>, Vec<Option<BudgetShard>>)> {
        let mut keys = vec![(campaign_pk(tenant, campaign), CAMPAIGN_SK.to_owned())];
        keys.extend((0..shards).map(|shard| budget_key(tenant, campaign, shard)));
        let mut found = self.get_many(keys).await?;
        let shards = (0..shards)
            .map(|shard| {
                found
                    .remove(&budget_shard_pk(tenant, campaign, shard))
                    .as_ref()
                    .map(budget_shard_from)
                    .transpose()
            })
            .collect::<StoreResult<_>>()?;
        Ok((found.remove(&campaign_pk(tenant, campaign)), shards))
    }

    /// After a spend's shard failed its condition (`current` is the shard
    /// as it was): the shards to try next, `None` when the campaign
    /// changed since it was read (read it again), or why it cannot pay.
    pub(super) async fn after_spend_failed(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        link: &CampaignLink,
        spend: Spend,
        fixed: Option<u32>,
        current: Option<&Item>,
    ) -> StoreResult<Option<Vec<u32>>> {
        let Some(shard) = current.map(budget_shard_from).transpose()? else {
            return Ok(None);
        };
        if shard.revision != link.revision {
            return Ok(None);
        }
        // A reservation's hold is not in it (any more).
        if let Spend::Convert { held, .. } = spend
            && (shard.held_uses < 1 || shard.held_amount < held.minor())
        {
            return Err(StoreError::Refused(Refusal::ReservationExpired));
        }
        self.shard_with_room(tenant, campaign, link, spend, fixed)
            .await
    }

    /// After a spend found a shard without room: the shards to try next.
    /// Those with room if there are any; else, when the shards together
    /// have room for the amount, one shard filled from the others first (a
    /// transfer that keeps the total); else the budget is spent. A convert
    /// must stay on the reservation's shard (`fixed`).
    async fn shard_with_room(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        link: &CampaignLink,
        spend: Spend,
        fixed: Option<u32>,
    ) -> StoreResult<Option<Vec<u32>>> {
        let (_, shards) = self.read_budget(tenant, campaign, link.shards).await?;
        let mut current = Vec::with_capacity(shards.len());
        for (number, shard) in shards.into_iter().enumerate() {
            match shard {
                Some(shard) if shard.revision == link.revision => {
                    current.push((number as u32, shard))
                }
                // A shard of other terms: the campaign changed; read it again.
                _ => return Ok(None),
            }
        }
        let (uses_needed, amount_needed) = spend.needs();
        let limits_uses = link.budget.uses.is_some() && uses_needed > 0;
        let limits_amount = link.budget.amount.is_some() && amount_needed > 0;
        let has_uses = |s: &BudgetShard| !limits_uses || s.uses_left >= 1;
        let has_amount = |s: &BudgetShard| !limits_amount || s.amount_left >= amount_needed;
        let eligible = |number: u32| fixed.is_none_or(|f| f == number);
        let ready: Vec<u32> = current
            .iter()
            .filter(|(number, s)| eligible(*number) && has_uses(s) && has_amount(s))
            .map(|(number, _)| *number)
            .collect();
        if !ready.is_empty() {
            return Ok(Some(ready));
        }
        // Room for the amount only spread over several shards: move it into
        // the best shard that has a use.
        let Some((target, target_shard)) = current
            .iter()
            .filter(|(number, s)| eligible(*number) && has_uses(s))
            .max_by_key(|(_, s)| s.amount_left)
            .copied()
        else {
            return Err(spent());
        };
        if !limits_amount {
            return Err(spent());
        }
        let mut missing = amount_needed - target_shard.amount_left.max(0);
        let mut sources: Vec<(u32, BudgetShard)> = current
            .into_iter()
            .filter(|(number, s)| *number != target && s.amount_left > 0)
            .collect();
        sources.sort_by_key(|(_, s)| std::cmp::Reverse(s.amount_left));
        let mut moves = Vec::new();
        for (number, shard) in sources {
            if missing <= 0 {
                break;
            }
            let take = shard.amount_left.min(missing);
            moves.push((number, take));
            missing -= take;
        }
        if missing > 0 {
            return Err(spent());
        }
        self.move_amount(tenant, campaign, link, target, &moves)
            .await?;
        Ok(Some(vec![target]))
    }

    /// Moves budget amount from shards to `target` in one transaction; the
    /// campaign's total room stays the same, so it needs no retry: a spend
    /// that lost the race finds out at its own write.
    async fn move_amount(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        link: &CampaignLink,
        target: u32,
        moves: &[(u32, i64)],
    ) -> StoreResult<()> {
        let mut tx = self.transaction();
        let revision = || (":revision".to_owned(), n(link.revision));
        for (source, amount) in moves {
            tx.update(
                budget_key(tenant, campaign, *source),
                "SET amount_left = amount_left - :amount",
                "revision = :revision AND amount_left >= :amount",
                &[],
                Item::from([revision(), (":amount".into(), n(amount))]),
            )?;
        }
        let total: i64 = moves.iter().map(|(_, amount)| amount).sum();
        tx.update(
            budget_key(tenant, campaign, target),
            "SET amount_left = amount_left + :amount",
            "revision = :revision",
            &[],
            Item::from([revision(), (":amount".into(), n(total))]),
        )?;
        // Cancelled (a spend came first, or the terms changed): nothing moved.
        self.transact(tx, None).await?;
        Ok(())
    }
}

fn spent() -> StoreError {
    StoreError::Refused(Refusal::BudgetExhausted)
}
