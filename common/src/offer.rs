//! What a coupon or a campaign gives: its discount, and the labels and
//! currency of its terms, parsed one way for both.

use crate::invalid::Invalid;
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
    ) -> Result<Option<Discount>, Invalid> {
        let percent = match (percent, variable) {
            (Some(_), Some(_)) => {
                return Err(Invalid(
                    "give discount_percent or its alias discount_variable, not both".into(),
                ));
            }
            (Some(p), None) => Some(("discount_percent", p)),
            (None, Some(v)) => Some(("discount_variable", v)),
            (None, None) => None,
        };
        match (fixed, percent) {
            (Some(_), Some(_)) => Err(Invalid(
                "a coupon has one discount: give discount_fixed or discount_percent, not both"
                    .into(),
            )),
            (Some(f), None) => Ok(Some(Discount::Fixed(Money::parse("discount_fixed", f)?))),
            (None, Some((field, p))) => Ok(Some(Discount::Percent(Percent::parse(field, p)?))),
            (None, None) => Ok(None),
        }
    }

    /// What this discount takes off an order: a percentage rounds half to
    /// even, and no discount is ever more than the order.
    pub fn amount_off(self, order: Money) -> Money {
        match self {
            Discount::Fixed(money) => money.min(order),
            Discount::Percent(percent) => percent.of(order),
        }
    }
}

/// Free-text labels (product ids, promo types): trimmed, 1 to `max` printable characters.
pub fn parse_label(field: &str, text: &str, max: usize) -> Result<String, Invalid> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "{field} must be 1 to {max} printable characters"
        )));
    }
    Ok(text.to_owned())
}

/// ISO 4217 alphabetic code, upper-cased.
pub fn parse_currency(text: &str) -> Result<String, Invalid> {
    let text = text.trim();
    if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Invalid(format!(
            "currency must be a three-letter ISO 4217 code like EUR, got {text:?}"
        )));
    }
    Ok(text.to_ascii_uppercase())
}

pub const MAX_PRODUCT_ID_CHARS: usize = 128;
pub const MAX_PROMO_TYPE_CHARS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

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
