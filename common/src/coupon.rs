//! The coupon and redemption domain: what a coupon is and when it may be
//! used. Clients see it through `views`.

use chrono::{DateTime, SubsecRound, Utc};

use crate::campaign::{BudgetTaken, Campaign, CampaignId, CampaignLink};
use crate::code::CouponCode;
use crate::invalid::Invalid;
use crate::metadata::Metadata;
use crate::money::Money;
use crate::offer::Discount;
pub use crate::redemption::{Redemption, RedemptionKind};
use crate::refusal::Refusal;

pub const MAX_AVAILABILITY: u64 = 1_000_000_000;

/// Counter shards of a `high_demand` coupon. A DynamoDB partition takes about
/// 1,000 write units a second and a transactional write costs 2 per item, so
/// one coupon item tops out near 500 consumes a second (far fewer when
/// transactions on it collide); eight shards lift that eightfold, as far as
/// the eight partitions a day of the tenant's log (`schema::LOG_SHARDS`) go.
pub const HIGH_DEMAND_SHARDS: u32 = 8;

/// `total` uses spread over `shards` counters as evenly as whole numbers go.
pub fn shard_shares(total: u64, shards: u32) -> Vec<u64> {
    let k = u64::from(shards.max(1));
    (0..k)
        .map(|i| total / k + u64::from(i < total % k))
        .collect()
}
pub const MAX_CUSTOMER_ID_CHARS: usize = 128;

/// `max_uses_per_customer`: 1 to `MAX_AVAILABILITY`.
pub fn parse_uses_per_customer(value: u64) -> Result<u64, Invalid> {
    Some(value)
        .filter(|n| (1..=MAX_AVAILABILITY).contains(n))
        .ok_or_else(|| {
            Invalid(format!(
                "max_uses_per_customer must be a whole number from 1 to {MAX_AVAILABILITY}"
            ))
        })
}

/// A coupon stays valid through the whole second its expiry names: an
/// `expiry_date` of 2030-01-15 (23:59:59) covers 23:59:59.999 too.
pub fn expiry_second(now: DateTime<Utc>) -> DateTime<Utc> {
    now.trunc_subsecs(0)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Coupon {
    pub code: CouponCode,
    pub product_id: Option<String>,
    pub promo_type: Option<String>,
    pub discount: Option<Discount>,
    pub currency: Option<String>,
    /// Orders below this amount cannot use the coupon.
    pub min_order_amount: Option<Money>,
    /// Uses (and held reservations) one customer may have.
    pub max_uses_per_customer: Option<u64>,
    /// Uses left; shown to clients as `availability_count`.
    pub uses_left: u64,
    pub redeemed_count: u64,
    /// Uses held by reservations (not in `uses_left` until released).
    pub reserved_count: u64,
    /// For a `high_demand` coupon, the number of counter shards its uses are
    /// spread over (the three counts above are their sums); 0 when the
    /// coupon item counts its uses itself.
    pub shards: u32,
    /// Bumped with every change of terms of a sharded coupon, on the coupon
    /// and every shard together, so a consume that writes only a shard
    /// still knows the terms it checked are the current ones.
    pub revision: u64,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A campaign code's campaign. Its item stores no terms of its own.
    pub campaign_id: Option<CampaignId>,
    /// Once read with its campaign (`in_campaign`): the terms above are the
    /// campaign's and `active` is both of theirs.
    pub campaign: Option<Box<CampaignLink>>,
    /// The coupon's own, also on a campaign code (not a term).
    pub metadata: Metadata,
    /// A personal code's customer: only a request naming this customer may
    /// validate, reserve or consume it; to anyone else it does not exist.
    pub owner: Option<String>,
}

impl Coupon {
    /// Why this coupon cannot be used at `now` for `redeem`, if it cannot.
    /// The order is the order a customer would want to hear about it.
    /// DynamoDB's consume condition encodes the same rules; this classifies
    /// its refusals and answers validate. The per-customer limit lives in its
    /// own item and is checked by the store.
    pub fn refusal(&self, now: DateTime<Utc>, redeem: &Redeem) -> Option<Refusal> {
        if !self.active {
            Some(Refusal::Inactive)
        } else if self.starts_at.is_some_and(|start| start > now) {
            Some(Refusal::NotYetValid)
        } else if self.expires_at.is_some_and(|end| end < expiry_second(now)) {
            Some(Refusal::Expired)
        } else if matches!((&self.product_id, &redeem.product_id), (Some(own), Some(asked)) if own != asked)
            || self.campaign.as_ref().is_some_and(|c| {
                !c.product_ids.is_empty()
                    && redeem
                        .product_id
                        .as_ref()
                        .is_some_and(|asked| !c.product_ids.contains(asked))
            })
        {
            Some(Refusal::ProductMismatch)
        } else if let Some(order) = &redeem.order
            && matches!((&self.currency, &order.currency), (Some(own), Some(asked)) if own != asked)
        {
            Some(Refusal::CurrencyMismatch)
        } else if let (Some(min), Some(order)) = (self.min_order_amount, &redeem.order)
            && order.amount < min
        {
            Some(Refusal::BelowMinimumOrder)
        } else if self.uses_left == 0 {
            Some(Refusal::Exhausted)
        } else if self.over_budget(redeem) {
            Some(Refusal::BudgetExhausted)
        } else {
            None
        }
    }

    /// Whether the campaign's budget, as last read, cannot pay for this use.
    fn over_budget(&self, redeem: &Redeem) -> bool {
        let Some(campaign) = &self.campaign else {
            return false;
        };
        let discount = self
            .pricing(redeem)
            .map_or(Money::from_minor(0), |p| p.discount_amount);
        campaign.uses_left == Some(0) || campaign.amount_left.is_some_and(|left| left < discount)
    }

    /// Whether this is another customer's personal code (or `redeem`
    /// names no customer): then it is answered as if it did not exist.
    pub fn hidden_from(&self, redeem: &Redeem) -> bool {
        self.owner
            .as_ref()
            .is_some_and(|owner| redeem.customer_id.as_ref() != Some(owner))
    }

    /// Whether it is one of its campaign's unassigned codes, which
    /// `POST /coupon/assign` hands out (a sharded one never is).
    pub fn in_pool(&self) -> bool {
        self.campaign_id.is_some() && self.owner.is_none() && self.shards == 0
    }

    /// "Exhausted" is not final while some of the coupon's uses sit in
    /// reservations: the expired ones come back when reclaimed. Validate
    /// reclaims them before answering; consume and reserve let the store
    /// reclaim them when its write finds the coupon empty.
    pub fn exhausted_but_held(&self, refusal: Option<Refusal>) -> bool {
        refusal == Some(Refusal::Exhausted) && self.reserved_count > 0
    }

    /// What a consume or reservation must say for this coupon's conditions
    /// to be checked at all: validate may leave them out, consume may not.
    pub fn require_details(&self, redeem: &Redeem) -> Result<(), Invalid> {
        if self.max_uses_per_customer.is_some() && redeem.customer_id.is_none() {
            return Err(Invalid(format!(
                "coupon {} limits uses per customer: give customer_id",
                self.code
            )));
        }
        if self.min_order_amount.is_some() && redeem.order.is_none() {
            return Err(Invalid(format!(
                "coupon {} has a minimum order amount: give order_amount",
                self.code
            )));
        }
        if self
            .campaign
            .as_ref()
            .is_some_and(|c| c.budget.amount.is_some())
            && redeem.order.is_none()
        {
            return Err(Invalid(format!(
                "coupon {} belongs to a campaign with a money budget: give order_amount",
                self.code
            )));
        }
        Ok(())
    }

    /// The discount this coupon gives `redeem`'s order, when it names one.
    pub fn pricing(&self, redeem: &Redeem) -> Option<Pricing> {
        let order = redeem.order.as_ref()?;
        let mut discount = self
            .discount
            .map_or(Money::from_minor(0), |d| d.amount_off(order.amount));
        if let Some(cap) = self.campaign.as_ref().and_then(|c| c.max_discount_amount) {
            discount = discount.min(cap);
        }
        Some(Pricing {
            order_amount: order.amount,
            discount_amount: discount,
            currency: order.currency.clone().or_else(|| self.currency.clone()),
        })
    }
}

impl Coupon {
    /// This campaign code as its campaign makes it: the campaign's offer,
    /// active only while both are.
    pub fn in_campaign(mut self, campaign: &Campaign) -> Coupon {
        debug_assert_eq!(self.campaign_id.as_ref(), Some(&campaign.id));
        let offer = &campaign.offer;
        self.product_id = offer.product_id.clone();
        self.promo_type = offer.promo_type.clone();
        self.discount = offer.discount;
        self.currency = offer.currency.clone();
        self.min_order_amount = offer.min_order_amount;
        self.max_uses_per_customer = offer.max_uses_per_customer;
        self.starts_at = offer.starts_at;
        self.expires_at = offer.expires_at;
        self.active = self.active && campaign.active;
        self.campaign = Some(Box::new(campaign.link()));
        self
    }
}

/// What a validate, reserve or consume asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redeem {
    pub product_id: Option<String>,
    pub customer_id: Option<String>,
    pub order: Option<Order>,
}

/// The order a coupon is applied to.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub amount: Money,
    pub currency: Option<String>,
}

/// An order's amount and the discount a coupon takes off it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    pub order_amount: Money,
    pub discount_amount: Money,
    pub currency: Option<String>,
}

/// A use held for one checkout until it is consumed, released or expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub reservation_id: String,
    pub code: CouponCode,
    pub coupon_created_at: DateTime<Utc>,
    pub customer_id: Option<String>,
    pub counted_for_customer: bool,
    /// The counter shard of a `high_demand` coupon holding the use.
    pub shard: Option<u32>,
    /// A campaign code's: what the reservation holds of the campaign's budget.
    pub campaign: Option<BudgetTaken>,
    pub state: ReservationState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationState {
    Held,
    Consumed,
    Released,
}

impl ReservationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            ReservationState::Consumed => "consumed",
            ReservationState::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Option<ReservationState> {
        match text {
            "held" => Some(ReservationState::Held),
            "consumed" => Some(ReservationState::Consumed),
            "released" => Some(ReservationState::Released),
            _ => None,
        }
    }
}

impl Reservation {
    /// Why this reservation cannot be consumed at `now`, if it cannot.
    pub fn refusal(&self, now: DateTime<Utc>) -> Option<Refusal> {
        match self.state {
            ReservationState::Consumed => Some(Refusal::ReservationUsed),
            ReservationState::Released => Some(Refusal::ReservationExpired),
            ReservationState::Held if self.expires_at <= now => Some(Refusal::ReservationExpired),
            ReservationState::Held => None,
        }
    }
}

/// Changes to a coupon. `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CouponPatch {
    pub uses_left: Option<u64>,
    pub product_id: Option<Option<String>>,
    pub promo_type: Option<Option<String>>,
    pub discount: Option<Option<Discount>>,
    pub currency: Option<Option<String>>,
    pub min_order_amount: Option<Option<Money>>,
    pub max_uses_per_customer: Option<Option<u64>>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub active: Option<bool>,
    /// Replaces the coupon's metadata (empty: removes it).
    pub metadata: Option<Metadata>,
}

impl CouponPatch {
    pub fn is_empty(&self) -> bool {
        *self == CouponPatch::default()
    }

    /// Whether it changes an offer term (anything but uses, `active` and
    /// metadata), which a campaign code takes from its campaign.
    pub fn changes_terms(&self) -> bool {
        let own = CouponPatch {
            uses_left: self.uses_left,
            active: self.active,
            metadata: self.metadata.clone(),
            ..CouponPatch::default()
        };
        *self != own
    }
}

impl Coupon {
    /// An active code of `campaign` with `uses_left` uses, created `now`:
    /// it takes every term from its campaign.
    pub fn campaign_code(
        code: CouponCode,
        campaign: CampaignId,
        uses_left: u64,
        now: DateTime<Utc>,
    ) -> Coupon {
        Coupon {
            uses_left,
            campaign_id: Some(campaign),
            ..Coupon::plain(code, now)
        }
    }

    /// An active coupon with one use and no terms, created `now`.
    fn plain(code: CouponCode, now: DateTime<Utc>) -> Coupon {
        Coupon {
            code,
            product_id: None,
            promo_type: None,
            discount: None,
            currency: None,
            min_order_amount: None,
            max_uses_per_customer: None,
            uses_left: 1,
            redeemed_count: 0,
            reserved_count: 0,
            shards: 0,
            revision: 0,
            starts_at: None,
            expires_at: None,
            active: true,
            created_at: now,
            updated_at: now,
            campaign_id: None,
            campaign: None,
            metadata: Metadata::default(),
            owner: None,
        }
    }
}

#[cfg(test)]
impl Coupon {
    /// An active coupon with one use and no terms, created `now`: unit tests
    /// start from it and set what they check.
    pub(crate) fn bare(code: &str, now: DateTime<Utc>) -> Coupon {
        Coupon::plain(CouponCode::parse(code).unwrap(), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Percent;
    use chrono::Duration;

    fn coupon() -> Coupon {
        let now = Utc::now();
        Coupon {
            product_id: Some("apple123".into()),
            currency: Some("EUR".into()),
            starts_at: Some(now - Duration::days(1)),
            expires_at: Some(now + Duration::days(1)),
            ..Coupon::bare("ABCD", now)
        }
    }

    fn for_product(product: &str) -> Redeem {
        Redeem {
            product_id: Some(product.into()),
            ..Redeem::default()
        }
    }

    fn order(amount: &str, currency: Option<&str>) -> Redeem {
        Redeem {
            order: Some(Order {
                amount: Money::parse("order_amount", amount).unwrap(),
                currency: currency.map(str::to_owned),
            }),
            ..Redeem::default()
        }
    }

    #[test]
    fn refusals_in_order() {
        let now = Utc::now();
        let any = Redeem::default();
        assert_eq!(coupon().refusal(now, &for_product("apple123")), None);
        assert_eq!(coupon().refusal(now, &any), None);
        assert_eq!(
            coupon().refusal(now, &for_product("pear")),
            Some(Refusal::ProductMismatch)
        );
        let c = Coupon {
            uses_left: 0,
            ..coupon()
        };
        assert_eq!(c.refusal(now, &any), Some(Refusal::Exhausted));
        let c = Coupon {
            active: false,
            uses_left: 0,
            ..coupon()
        };
        assert_eq!(c.refusal(now, &any), Some(Refusal::Inactive));
        assert_eq!(
            coupon().refusal(now + Duration::days(2), &any),
            Some(Refusal::Expired)
        );
        assert_eq!(
            coupon().refusal(now - Duration::days(2), &any),
            Some(Refusal::NotYetValid)
        );
        assert_eq!(
            coupon().refusal(now, &order("10", Some("USD"))),
            Some(Refusal::CurrencyMismatch)
        );
        let c = Coupon {
            min_order_amount: Some(Money::from_minor(5_000)),
            ..coupon()
        };
        assert_eq!(
            c.refusal(now, &order("49.99", None)),
            Some(Refusal::BelowMinimumOrder)
        );
        assert_eq!(c.refusal(now, &order("50", Some("EUR"))), None);
        assert!(c.require_details(&any).is_err());
        assert!(c.require_details(&order("50", None)).is_ok());
    }

    /// (discount, order amount, discount taken, amount to pay)
    #[test]
    fn pricing_table() {
        let fixed = |m: &str| Discount::Fixed(Money::parse("d", m).unwrap());
        let percent = |p: &str| Discount::Percent(Percent::parse("d", p).unwrap());
        let cases = [
            (percent("33.33"), "0.01", "0.00", "0.01"),
            (percent("50"), "0.01", "0.00", "0.01"),
            (percent("50"), "0.03", "0.02", "0.01"),
            (percent("12.5"), "1.00", "0.12", "0.88"),
            (percent("12.5"), "3.00", "0.38", "2.62"),
            (percent("100"), "19.99", "19.99", "0.00"),
            (percent("33.33"), "100", "33.33", "66.67"),
            (fixed("10"), "25.00", "10.00", "15.00"),
            (fixed("10"), "4.99", "4.99", "0.00"),
            (fixed("0.01"), "0.01", "0.01", "0.00"),
        ];
        for (discount, amount, off, pay) in cases {
            let c = Coupon {
                discount: Some(discount),
                ..coupon()
            };
            let pricing = c.pricing(&order(amount, None)).unwrap();
            assert_eq!(
                pricing.discount_amount.to_string(),
                off,
                "{discount:?} of {amount}"
            );
            let view = serde_json::to_value(crate::views::PricingView::of(&pricing)).unwrap();
            assert_eq!(view["final_amount"], pay);
            assert_eq!(pricing.currency.as_deref(), Some("EUR"));
        }
        assert_eq!(coupon().pricing(&Redeem::default()), None);
    }

    #[test]
    fn redemption_ids_carry_their_time() {
        let at = DateTime::parse_from_rfc3339("2030-01-15T10:11:12.345Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = Redemption::new_id(at);
        assert_eq!(Redemption::time_of_id(&id), Some(at));
        assert_eq!(Redemption::time_of_id("not-a-uuid"), None);
        assert_eq!(
            Redemption::time_of_id(&uuid::Uuid::new_v4().to_string()),
            None
        );
    }
}
