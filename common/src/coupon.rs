//! The coupon and redemption domain: what a coupon is, when it may be used,
//! and how it is shown to clients.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::code::CouponCode;
use crate::dates;
use crate::error::{ApiError, Refusal};
use crate::money::{Money, Percent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    Fixed(Money),
    Percent(Percent),
}

impl Discount {
    /// From the create/update fields; `discount_variable` is the original
    /// API's name for `discount_percent`.
    pub fn from_fields(
        fixed: Option<&str>,
        percent: Option<&str>,
        variable: Option<&str>,
    ) -> Result<Option<Discount>, ApiError> {
        let percent = match (percent, variable) {
            (Some(_), Some(_)) => {
                return Err(ApiError::Invalid(
                    "give discount_percent or its alias discount_variable, not both".into(),
                ));
            }
            (Some(p), None) => Some(("discount_percent", p)),
            (None, Some(v)) => Some(("discount_variable", v)),
            (None, None) => None,
        };
        match (fixed, percent) {
            (Some(_), Some(_)) => Err(ApiError::Invalid(
                "a coupon has one discount: give discount_fixed or discount_percent, not both"
                    .into(),
            )),
            (Some(f), None) => Ok(Some(Discount::Fixed(Money::parse("discount_fixed", f)?))),
            (None, Some((field, p))) => Ok(Some(Discount::Percent(Percent::parse(field, p)?))),
            (None, None) => Ok(None),
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            Discount::Fixed(money) => json!({"type": "fixed", "value": money.to_string()}),
            Discount::Percent(percent) => json!({"type": "percent", "value": percent.to_string()}),
        }
    }
}

/// Free-text labels (product ids, promo types): trimmed, 1 to `max` printable characters.
pub fn parse_label(field: &str, text: &str, max: usize) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(ApiError::Invalid(format!(
            "{field} must be 1 to {max} printable characters"
        )));
    }
    Ok(text.to_owned())
}

/// ISO 4217 alphabetic code, upper-cased.
pub fn parse_currency(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::Invalid(format!(
            "currency must be a three-letter ISO 4217 code like EUR, got {text:?}"
        )));
    }
    Ok(text.to_ascii_uppercase())
}

pub const MAX_PRODUCT_ID_CHARS: usize = 128;
pub const MAX_PROMO_TYPE_CHARS: usize = 64;
pub const MAX_AVAILABILITY: u64 = 1_000_000_000;

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
    /// Uses left; shown to clients as `availability_count`.
    pub uses_left: u64,
    pub redeemed_count: u64,
    pub starts_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Coupon {
    /// Why this coupon cannot be consumed at `now` for `product_id`, if it
    /// cannot. The order is the order a customer would want to hear about it.
    /// DynamoDB's consume condition encodes the same rules; this classifies
    /// its refusals and answers validate.
    pub fn refusal(&self, now: DateTime<Utc>, product_id: Option<&str>) -> Option<Refusal> {
        if !self.active {
            Some(Refusal::Inactive)
        } else if self.starts_at.is_some_and(|start| start > now) {
            Some(Refusal::NotYetValid)
        } else if self.expires_at.is_some_and(|end| end < expiry_second(now)) {
            Some(Refusal::Expired)
        } else if matches!((&self.product_id, product_id), (Some(own), Some(asked)) if own != asked)
        {
            Some(Refusal::ProductMismatch)
        } else if self.uses_left == 0 {
            Some(Refusal::Exhausted)
        } else {
            None
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "object": "coupon",
            "code": self.code.as_str(),
            "product_id": self.product_id,
            "promo_type": self.promo_type,
            "discount": self.discount.map(Discount::to_json),
            "currency": self.currency,
            "availability_count": self.uses_left,
            "redeemed_count": self.redeemed_count,
            "starts_at": self.starts_at.map(dates::format),
            "expiry_date": self.expires_at.map(dates::format),
            "active": self.active,
            "created_at": dates::format(self.created_at),
            "updated_at": dates::format(self.updated_at),
        })
    }
}

/// One consumed use: the redemption log's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Redemption {
    pub redemption_id: String,
    pub code: CouponCode,
    pub product_id: Option<String>,
    pub promo_type: Option<String>,
    pub discount: Option<Discount>,
    pub currency: Option<String>,
    pub consumed_at: DateTime<Utc>,
}

impl Redemption {
    /// The consume response: the redemption, and the uses the coupon has left.
    pub fn to_json(&self, uses_left: u64) -> Value {
        json!({
            "object": "redemption",
            "redemption_id": self.redemption_id,
            "code": self.code.as_str(),
            "product_id": self.product_id,
            "promo_type": self.promo_type,
            "discount": self.discount.map(Discount::to_json),
            "currency": self.currency,
            "consumed_at": dates::format(self.consumed_at),
            "availability_count": uses_left,
        })
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
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub active: Option<bool>,
}

impl CouponPatch {
    pub fn is_empty(&self) -> bool {
        *self == CouponPatch::default()
    }
}

#[derive(Serialize)]
pub struct Validation {
    pub valid: bool,
    pub reason: Option<&'static str>,
    pub coupon: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn coupon() -> Coupon {
        let now = Utc::now();
        Coupon {
            code: CouponCode::parse("ABCD").unwrap(),
            product_id: Some("apple123".into()),
            promo_type: None,
            discount: None,
            currency: None,
            uses_left: 1,
            redeemed_count: 0,
            starts_at: Some(now - Duration::days(1)),
            expires_at: Some(now + Duration::days(1)),
            active: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn refusals_in_order() {
        let now = Utc::now();
        assert_eq!(coupon().refusal(now, Some("apple123")), None);
        assert_eq!(coupon().refusal(now, None), None);
        assert_eq!(
            coupon().refusal(now, Some("pear")),
            Some(Refusal::ProductMismatch)
        );
        let c = Coupon {
            uses_left: 0,
            ..coupon()
        };
        assert_eq!(c.refusal(now, None), Some(Refusal::Exhausted));
        let c = Coupon {
            active: false,
            uses_left: 0,
            ..coupon()
        };
        assert_eq!(c.refusal(now, None), Some(Refusal::Inactive));
        assert_eq!(
            coupon().refusal(now + Duration::days(2), None),
            Some(Refusal::Expired)
        );
        assert_eq!(
            coupon().refusal(now - Duration::days(2), None),
            Some(Refusal::NotYetValid)
        );
    }

    #[test]
    fn one_discount_kind_at_a_time() {
        assert!(Discount::from_fields(Some("5"), Some("10"), None).is_err());
        assert!(Discount::from_fields(None, Some("10"), Some("10")).is_err());
        assert_eq!(
            Discount::from_fields(None, None, Some("12.5")).unwrap(),
            Some(Discount::Percent(Percent::from_hundredths(1250)))
        );
    }
}
