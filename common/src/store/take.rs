//! Where consume and reserve take a use from, and the condition that makes
//! taking it safe: the coupon item (or one of a `high_demand` coupon's
//! shards) must still be usable and still carry the terms the caller saw.

use chrono::{DateTime, Utc};

use super::coupons::CouponStore;

use super::budget::{Spend, push_spend};
use super::item::*;
use super::release::ReleaseStore;
use super::schema::*;
use super::shards::{ShardState, pick_shard, shard_key};
use super::transact::{ATTEMPTS, Slot, Transaction};
use super::usable::usable_condition;
use super::{DynamoStore, Missing, StoreError, StoreResult};
use crate::campaign::BudgetTaken;
use crate::code::CouponCode;
use crate::coupon::{Coupon, Redeem, Reservation};
use crate::money::Money;
use crate::refusal::Refusal;
use crate::tenant::TenantId;

impl DynamoStore {
    /// The coupon as stored now, for another attempt.
    async fn read_again(&self, tenant: &TenantId, code: &CouponCode) -> StoreResult<Coupon> {
        self.get_coupon(tenant, code)
            .await?
            .ok_or(StoreError::NotFound(Missing::Coupon))
    }
}

/// What a write takes from a coupon's counts.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Take<'a> {
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
                "SET uses_left = uses_left - :one, redeemed_count = redeemed_count + :one, \
                 updated_at = :now, last_redemption_id = :redemption_id"
            }
            Take::Hold => {
                "SET uses_left = uses_left - :one, updated_at = :now, \
                 reserved_count = if_not_exists(reserved_count, :zero) + :one"
            }
            Take::Convert(_) => {
                "SET redeemed_count = redeemed_count + :one, reserved_count = reserved_count - :one, \
                 updated_at = :now, last_redemption_id = :redemption_id"
            }
        }
    }

    fn needs_a_use(self) -> bool {
        !matches!(self, Take::Convert(_))
    }
}

/// Where `Source::write` put its writes and what they take.
pub(super) struct Taken {
    /// The write on the coupon item or its shard.
    pub(super) slot: Slot,
    /// The `high_demand` counter shard written.
    pub(super) shard: Option<u32>,
    /// A campaign code's: the write on a budget shard, and what it takes.
    pub(super) budget: Option<(Slot, BudgetTaken)>,
}

/// Where consume and reserve take a use from, attempt after attempt: the
/// coupon item, or one of a `high_demand` coupon's shards, a random one
/// first and, once it runs dry, the others that still have uses.
pub(super) struct Source<'a> {
    store: &'a DynamoStore,
    tenant: &'a TenantId,
    redeem: &'a Redeem,
    take: Take<'a>,
    now: DateTime<Utc>,
    /// The coupon as last read; its terms are what the write requires.
    pub(super) seen: Coupon,
    /// Shards known to have uses, once a first shard ran dry.
    shards_with_uses: Option<Vec<u32>>,
    /// A campaign code's budget shards known to have room, once a first
    /// one had none.
    budget_shards: Option<Vec<u32>>,
    /// Expired reservations were given back once already.
    reclaimed: bool,
    /// `seen` was read during this call (not handed in from a cache).
    read_here: bool,
}

impl<'a> Source<'a> {
    pub(super) fn new(
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
            budget_shards: None,
            reclaimed: false,
            read_here: false,
        }
    }

    /// Attempts one call may make: a sharded coupon may try each shard.
    pub(super) fn attempts(&self) -> u32 {
        let budget_shards = self.seen.campaign.as_ref().map_or(0, |c| c.shards);
        ATTEMPTS + 2 * self.seen.shards + 2 * budget_shards
    }

    /// The budget shard a converted reservation holds its use in.
    fn held_budget_shard(&self) -> Option<u32> {
        match self.take {
            Take::Convert(held) => held.campaign.as_ref().map(|c| c.shard),
            _ => None,
        }
    }

    /// What a campaign code's write takes from its campaign's budget.
    fn spend(&self) -> StoreResult<Spend> {
        let amount = self
            .seen
            .pricing(self.redeem)
            .map_or(Money::from_minor(0), |p| p.discount_amount);
        Ok(match self.take {
            Take::Use => Spend::Use { amount },
            Take::Hold => Spend::Hold { amount },
            Take::Convert(held) => Spend::Convert {
                held: held
                    .campaign
                    .as_ref()
                    .ok_or(StoreError::Refused(Refusal::ReservationExpired))?
                    .amount,
                amount,
            },
        })
    }

    /// Refusals the write would not notice, decided before it. The order's
    /// currency and amount never are: the write pins the terms they follow
    /// from. A sharded coupon's write checks only the terms' revision, so
    /// its other rules are checked here, on a fresh read before refusing.
    pub(super) async fn refusal_before_writing(&mut self) -> StoreResult<()> {
        loop {
            if self.seen.hidden_from(self.redeem) {
                return Err(StoreError::NotFound(Missing::Coupon));
            }
            // A reservation's use was held in the coupon it was made on; a
            // coupon created later under the same code has none of it (the
            // write's condition pins `created_at` to the reservation's).
            if let Take::Convert(held) = self.take
                && (held.coupon_created_at != self.seen.created_at
                    || held.shard.is_some() != (self.seen.shards > 0)
                    || held.campaign.is_some() != self.seen.campaign.is_some())
            {
                return Err(StoreError::Refused(Refusal::ReservationExpired));
            }
            match self.seen.refusal(self.now, self.redeem) {
                Some(refusal @ (Refusal::CurrencyMismatch | Refusal::BelowMinimumOrder)) => {
                    return Err(StoreError::Refused(refusal));
                }
                None | Some(Refusal::Exhausted) => return Ok(()),
                // Only the coupon item's own condition checks these rules.
                Some(_) if self.seen.shards == 0 && self.seen.campaign.is_none() => return Ok(()),
                Some(refusal) if self.read_here => return Err(StoreError::Refused(refusal)),
                Some(_) => self.read_again().await?,
            }
        }
    }

    async fn read_again(&mut self) -> StoreResult<()> {
        self.seen = self.store.read_again(self.tenant, &self.seen.code).await?;
        self.shards_with_uses = None;
        self.budget_shards = None;
        self.read_here = true;
        Ok(())
    }

    /// Pushes the conditional writes that take from the coupon or a shard
    /// (for a conversion, the shard the reservation holds its use in) and,
    /// for a campaign code, from a budget shard of its campaign. A
    /// conversion requires a held use there to redeem. A redeemed use
    /// names its log row on the item (`last_redemption_id`), so the stream
    /// can tell which use took a coupon's last (`coupon.exhausted`).
    pub(super) fn write(&self, tx: &mut Transaction, redemption_id: &str) -> StoreResult<Taken> {
        let (slot, shard) = self.write_use(tx, redemption_id)?;
        let budget = self.write_budget(tx)?;
        Ok(Taken {
            slot,
            shard,
            budget,
        })
    }

    fn write_budget(&self, tx: &mut Transaction) -> StoreResult<Option<(Slot, BudgetTaken)>> {
        let (Some(campaign_id), Some(link)) = (&self.seen.campaign_id, &self.seen.campaign) else {
            return Ok(None);
        };
        let spend = self.spend()?;
        let shard = self
            .held_budget_shard()
            .unwrap_or_else(|| pick_shard(self.budget_shards.as_deref(), link.shards));
        let slot = push_spend(tx, self.tenant, campaign_id, link, shard, spend)?;
        let taken = BudgetTaken {
            campaign_id: campaign_id.clone(),
            shard,
            amount: spend.amount(),
        };
        Ok(Some((slot, taken)))
    }

    fn write_use(
        &self,
        tx: &mut Transaction,
        redemption_id: &str,
    ) -> StoreResult<(Slot, Option<u32>)> {
        let (seen, take, now) = (&self.seen, self.take, self.now);
        let tenant = self.tenant;
        let mut values = Item::from([
            (":now".into(), time(now)),
            (":one".into(), n(1)),
            (":zero".into(), n(0)),
        ]);
        if take != Take::Hold {
            values.insert(":redemption_id".into(), s(redemption_id));
        }
        if seen.shards == 0 {
            let mut condition =
                usable_condition(seen, self.redeem, take.needs_a_use(), now, &mut values);
            if !take.needs_a_use() {
                condition.push_str(" AND reserved_count > :zero");
            }
            let slot = tx.update(
                coupon_key(tenant, &seen.code),
                take.expression(),
                &condition,
                &[],
                values,
            )?;
            return Ok((slot, None));
        }
        let shard = match take {
            Take::Convert(held) => held.shard.unwrap_or(0),
            _ => pick_shard(self.shards_with_uses.as_deref(), seen.shards),
        };
        let mut condition = "created_at = :seen_created_at AND revision = :revision".to_owned();
        values.insert(":seen_created_at".into(), time(seen.created_at));
        values.insert(":revision".into(), n(seen.revision));
        condition.push_str(match take {
            Take::Convert(_) => " AND reserved_count > :zero",
            Take::Use | Take::Hold => " AND uses_left > :zero",
        });
        let slot = tx.update(
            shard_key(tenant, &seen.code, shard),
            take.expression(),
            &condition,
            &[],
            values,
        )?;
        Ok((slot, Some(shard)))
    }

    /// After the write's condition failed (`current` is the coupon or shard
    /// as it was): ready for another attempt, or why the coupon cannot be
    /// used. A coupon that ran out while some of its uses sit in
    /// reservations gets the expired ones back first, once per call:
    /// whoever releases them, the uses are back for the next attempt.
    pub(super) async fn after_failure(
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
                    Ok(())
                } else if any_reserved && self.reclaim_once().await? {
                    Ok(())
                } else {
                    Err(StoreError::Refused(Refusal::Exhausted))
                }
            }
            _ => self.read_again().await,
        }
    }

    /// After the budget shard's condition failed (`current` is the shard
    /// as it was): another shard to try, or why the campaign cannot pay.
    pub(super) async fn after_budget_failure(&mut self, current: Option<&Item>) -> StoreResult<()> {
        let (Some(campaign_id), Some(link)) = (&self.seen.campaign_id, &self.seen.campaign) else {
            return Err(StoreError::Corrupt {
                key: self.seen.code.to_string(),
                what: "campaign".into(),
            });
        };
        let (spend, fixed) = (self.spend()?, self.held_budget_shard());
        let next = self
            .store
            .after_spend_failed(self.tenant, campaign_id, link, spend, fixed, current)
            .await?;
        match next {
            Some(shards) => self.budget_shards = Some(shards),
            None => self.read_again().await?,
        }
        Ok(())
    }

    async fn after_coupon_failure(&mut self, current: Option<&Item>) -> StoreResult<()> {
        let Some(current) = current else {
            return Err(StoreError::NotFound(Missing::Coupon));
        };
        let current = coupon_from(current)?;
        if current.hidden_from(self.redeem) {
            return Err(StoreError::NotFound(Missing::Coupon));
        }
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
            // Once the expired reservations were given back, "exhausted" is final.
            refusal if self.seen.exhausted_but_held(refusal) => match self.reclaim_once().await? {
                true => Ok(()),
                false => Err(StoreError::Refused(Refusal::Exhausted)),
            },
            Some(refusal) => Err(StoreError::Refused(refusal)),
            None => Ok(()),
        }
    }

    /// Gives the coupon's expired reservations back, once per call: `false`
    /// when this call did so already (then "exhausted" is final).
    async fn reclaim_once(&mut self) -> StoreResult<bool> {
        if self.reclaimed {
            return Ok(false);
        }
        self.reclaimed = true;
        self.store
            .reclaim_expired(self.tenant, &self.seen.code, self.now)
            .await?;
        Ok(true)
    }
}
