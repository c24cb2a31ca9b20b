//! The redemption log's rows: a consumed use, or the reversal of one.

use chrono::{DateTime, Utc};

use crate::campaign::BudgetTaken;
use crate::code::CouponCode;
use crate::coupon::Pricing;
use crate::metadata::Metadata;
use crate::offer::Discount;

/// A row of the redemption log: a consumed use, or the reversal of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedemptionKind {
    Consume,
    Reversal,
}

impl RedemptionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RedemptionKind::Consume => "consume",
            RedemptionKind::Reversal => "reversal",
        }
    }

    pub fn parse(text: &str) -> Option<RedemptionKind> {
        match text {
            "consume" => Some(RedemptionKind::Consume),
            "reversal" => Some(RedemptionKind::Reversal),
            _ => None,
        }
    }
}

/// One row of the redemption log.
#[derive(Debug, Clone, PartialEq)]
pub struct Redemption {
    /// A UUIDv7 whose timestamp is `consumed_at`, so the id alone locates the row.
    pub redemption_id: String,
    pub kind: RedemptionKind,
    /// For a reversal, the redemption it gives back.
    pub reverses: Option<String>,
    /// For a consume rolled back, its reversal.
    pub rolled_back_by: Option<String>,
    pub code: CouponCode,
    /// When the coupon was created: a rollback gives the use back only to
    /// the same coupon, not to a later one that reuses its code.
    pub coupon_created_at: DateTime<Utc>,
    pub product_id: Option<String>,
    pub promo_type: Option<String>,
    pub discount: Option<Discount>,
    pub currency: Option<String>,
    pub customer_id: Option<String>,
    /// Whether this use counts against the customer's per-coupon limit.
    pub counted_for_customer: bool,
    pub pricing: Option<Pricing>,
    pub reservation_id: Option<String>,
    /// The counter shard of a `high_demand` coupon the use came from.
    pub shard: Option<u32>,
    /// A campaign code's: what the use took from the campaign's budget.
    pub campaign: Option<BudgetTaken>,
    pub consumed_at: DateTime<Utc>,
    /// The consume's own (its order or CRM ids); a reversal keeps its
    /// consume's.
    pub metadata: Metadata,
}

impl Redemption {
    /// A fresh id for a row written at `at`.
    pub fn new_id(at: DateTime<Utc>) -> String {
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            at.timestamp() as u64,
            at.timestamp_subsec_nanos(),
        );
        uuid::Uuid::new_v7(ts).to_string()
    }

    /// When the row with this id was written, or `None` if it is not one of our ids.
    pub fn time_of_id(id: &str) -> Option<DateTime<Utc>> {
        let uuid = uuid::Uuid::parse_str(id).ok()?;
        if uuid.get_version_num() != 7 {
            return None;
        }
        let (secs, nanos) = uuid.get_timestamp()?.to_unix();
        DateTime::from_timestamp(secs as i64, nanos)
    }
}
