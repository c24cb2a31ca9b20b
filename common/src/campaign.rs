//! Campaigns: one offer and one budget for many codes. A campaign's codes
//! carry no terms of their own; they take the campaign's when read
//! (`Coupon::in_campaign`). The campaign's counters are spread over budget
//! shards (see `store::budget`), so a consume never writes the campaign
//! item and a campaign is as fast as its codes together.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::invalid::Invalid;
use crate::metadata::Metadata;
use crate::money::Money;
use crate::offer::{Discount, MAX_PRODUCT_ID_CHARS, parse_label};

/// Budget shards of every campaign: a consume writes one of them, so a
/// campaign takes eight partitions' writes, as far as the eight partitions
/// of a day of the tenant's log (`schema::LOG_SHARDS`) go.
pub const CAMPAIGN_SHARDS: u32 = 8;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_PRODUCT_IDS: usize = 100;
/// Budgets are counted in signed 64-bit minor units and uses.
pub const MAX_BUDGET_USES: u64 = 1_000_000_000_000;

/// `cmp_` and a UUIDv7 in hex: unguessable, and sorted by creation time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CampaignId(String);

const ID_PREFIX: &str = "cmp_";

impl CampaignId {
    pub fn new(now: DateTime<Utc>) -> CampaignId {
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            now.timestamp() as u64,
            now.timestamp_subsec_nanos(),
        );
        CampaignId(format!("{ID_PREFIX}{}", uuid::Uuid::new_v7(ts).simple()))
    }

    pub fn parse(text: &str) -> Result<CampaignId, Invalid> {
        let text = text.trim();
        let hex = text.strip_prefix(ID_PREFIX).unwrap_or_default();
        if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Invalid(format!(
                "campaign_id must be an id like cmp_0193a1b2c3d4..., got {text:?}"
            )));
        }
        Ok(CampaignId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a campaign gives each of its codes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offer {
    pub product_id: Option<String>,
    /// The products a code applies to; empty means any.
    pub product_ids: Vec<String>,
    pub promo_type: Option<String>,
    pub discount: Option<Discount>,
    pub currency: Option<String>,
    pub min_order_amount: Option<Money>,
    /// The most one use takes off an order (caps a percentage).
    pub max_discount_amount: Option<Money>,
    pub max_uses_per_customer: Option<u64>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a campaign may cost over all its codes; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub uses: Option<u64>,
    pub amount: Option<Money>,
}

/// The sums of a campaign's budget shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    pub redeemed_count: u64,
    pub discount_total: u64,
    /// Uses and discount held by reservations of its codes.
    pub held_uses: u64,
    pub held_amount: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub offer: Offer,
    pub active: bool,
    pub budget: Budget,
    /// Bumped with every change of offer, `active` or budget, on the
    /// campaign and all its budget shards in one transaction; a consume's
    /// write pins the revision it read.
    pub revision: u64,
    pub shards: u32,
    /// Codes that belong to it (counted before they are written, so a
    /// campaign with codes being made is never deleted under them).
    pub coupon_count: u64,
    /// The shards' sums; `None` where only the campaign item was read.
    pub spent: Option<Spent>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: Metadata,
}

impl Campaign {
    /// A new campaign, before it is written.
    pub fn new(
        name: String,
        offer: Offer,
        active: bool,
        budget: Budget,
        now: DateTime<Utc>,
    ) -> Campaign {
        Campaign {
            id: CampaignId::new(now),
            name,
            offer,
            active,
            budget,
            revision: 0,
            shards: CAMPAIGN_SHARDS,
            coupon_count: 0,
            spent: Some(Spent::default()),
            created_at: now,
            updated_at: now,
            metadata: Metadata::default(),
        }
    }

    /// What is left of the use budget, if it has one.
    pub fn uses_left(&self) -> Option<u64> {
        let spent = self.spent?;
        let used = spent.redeemed_count + spent.held_uses;
        self.budget.uses.map(|b| b.saturating_sub(used))
    }

    /// What is left of the money budget, if it has one.
    pub fn amount_left(&self) -> Option<Money> {
        let spent = self.spent?;
        let used = spent.discount_total + spent.held_amount;
        self.budget
            .amount
            .map(|b| Money::from_minor(b.minor().saturating_sub(used)))
    }

    /// What a code of this campaign needs to know at its write.
    pub fn link(&self) -> CampaignLink {
        CampaignLink {
            revision: self.revision,
            shards: self.shards,
            budget: self.budget,
            product_ids: self.offer.product_ids.clone(),
            max_discount_amount: self.offer.max_discount_amount,
            uses_left: self.uses_left(),
            amount_left: self.amount_left(),
        }
    }
}

/// A campaign code's campaign, as read with the coupon: the terms revision
/// its write must find, and the terms only campaigns have.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignLink {
    pub revision: u64,
    pub shards: u32,
    pub budget: Budget,
    pub product_ids: Vec<String>,
    pub max_discount_amount: Option<Money>,
    /// What was left of each budget when its shards were read (`None`:
    /// unlimited, or only the campaign item was read, as for a consume,
    /// whose write decides); validate answers from it.
    pub uses_left: Option<u64>,
    pub amount_left: Option<Money>,
}

/// What one consume or reservation of a campaign code took from the
/// campaign's budget: kept on its log row or reservation, so a rollback or
/// release gives exactly that back to the shard it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetTaken {
    pub campaign_id: CampaignId,
    pub shard: u32,
    /// Discount counted against the budget (held, for a reservation).
    pub amount: Money,
}

/// A campaign's name: 1 to 100 printable characters.
pub fn parse_name(text: &str) -> Result<String, Invalid> {
    parse_label("name", text, MAX_NAME_CHARS)
}

/// `product_ids`: up to 100 product ids, each like a `product_id`, no repeats.
pub fn parse_product_ids(ids: &[String]) -> Result<Vec<String>, Invalid> {
    if ids.len() > MAX_PRODUCT_IDS {
        return Err(Invalid(format!(
            "product_ids takes at most {MAX_PRODUCT_IDS} product ids, got {}",
            ids.len()
        )));
    }
    let mut parsed: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = parse_label("product_ids", id, MAX_PRODUCT_ID_CHARS)?;
        if parsed.contains(&id) {
            return Err(Invalid(format!("product_ids lists {id:?} twice")));
        }
        parsed.push(id);
    }
    Ok(parsed)
}

/// `budget_uses`: 1 to `MAX_BUDGET_USES`.
pub fn parse_budget_uses(value: u64) -> Result<u64, Invalid> {
    Some(value)
        .filter(|n| (1..=MAX_BUDGET_USES).contains(n))
        .ok_or_else(|| {
            Invalid(format!(
                "budget_uses must be a whole number from 1 to {MAX_BUDGET_USES}"
            ))
        })
}

/// The checks of a whole offer and budget, after a create or a change.
pub fn check(offer: &Offer, budget: &Budget) -> Result<(), Invalid> {
    if budget.amount.is_some() && offer.currency.is_none() {
        return Err(Invalid(
            "budget_amount is money: give the campaign a currency".into(),
        ));
    }
    if offer.product_id.is_some() && !offer.product_ids.is_empty() {
        return Err(Invalid("give product_id or product_ids, not both".into()));
    }
    if let (Some(start), Some(end)) = (offer.starts_at, offer.expires_at)
        && start > end
    {
        return Err(Invalid("starts_at must not be after expiry_date".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_hex_and_sort_by_time() {
        let earlier = Utc::now();
        let later = earlier + chrono::Duration::milliseconds(5);
        let (a, b) = (CampaignId::new(earlier), CampaignId::new(later));
        assert!(a.as_str() < b.as_str());
        assert_eq!(CampaignId::parse(a.as_str()).unwrap(), a);
        for bad in ["", "cmp_", "cmp_XYZ", "abc", &a.as_str().to_uppercase()] {
            assert!(CampaignId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn product_ids_are_bounded_and_unique() {
        let ids: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
        assert!(parse_product_ids(&ids).is_err());
        assert_eq!(parse_product_ids(&ids[..100]).unwrap().len(), 100);
        assert!(parse_product_ids(&["a".into(), " a ".into()]).is_err());
        assert!(parse_product_ids(&["".into()]).is_err());
    }

    #[test]
    fn a_money_budget_needs_a_currency() {
        let budget = Budget {
            uses: None,
            amount: Some(Money::from_minor(100)),
        };
        assert!(check(&Offer::default(), &budget).is_err());
        let offer = Offer {
            currency: Some("EUR".into()),
            ..Offer::default()
        };
        assert!(check(&offer, &budget).is_ok());
    }
}
