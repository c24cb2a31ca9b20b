//! A coupon's terms as clients send them, read one way for create and
//! update of coupons and campaigns: the same fields, the same types, the
//! same parsers. For an
//! update, a field left out leaves its term alone and `null` (or an empty
//! form value) clears it; for a create, both mean "none".

use crate::ApiError;
use crate::coupon::{CouponPatch, parse_uses_per_customer};
use crate::dates::parse_instant;
use crate::invalid::Invalid;
use crate::money::Money;
use crate::offer::{
    Discount, MAX_PRODUCT_ID_CHARS, MAX_PROMO_TYPE_CHARS, parse_currency, parse_label,
};
use crate::request::{self, Fields, lenient};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermsFields {
    #[serde(default, deserialize_with = "lenient::opt_number")]
    availability_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    expiry_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    starts_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    product_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    promo_type: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    discount_fixed: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    discount_percent: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    discount_variable: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    currency: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    min_order_amount: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_number")]
    max_uses_per_customer: Option<Option<u64>>,
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    active: Option<bool>,
}

/// The names of the terms fields, as requests spell them.
const NAMES: [&str; 12] = [
    "availability_count",
    "expiry_date",
    "starts_at",
    "product_id",
    "promo_type",
    "discount_fixed",
    "discount_percent",
    "discount_variable",
    "currency",
    "min_order_amount",
    "max_uses_per_customer",
    "active",
];

impl TermsFields {
    /// Takes the terms fields out of a request's fields, leaving the rest.
    pub fn take(fields: &mut Fields) -> Result<TermsFields, ApiError> {
        let terms = NAMES
            .iter()
            .filter_map(|name| fields.remove_entry(*name))
            .collect();
        request::decode(terms)
    }

    /// The terms as a change to a coupon: `None` leaves a term alone (or,
    /// for a create, means none), `Some(None)` clears it. The range of
    /// `availability_count` is the caller's: a create needs at least 1.
    pub fn parse(self) -> Result<CouponPatch, Invalid> {
        // Any discount field present replaces the discount; all of them
        // null clears it.
        let discount_fields = [
            &self.discount_fixed,
            &self.discount_percent,
            &self.discount_variable,
        ];
        let discount = if discount_fields.iter().all(|f| f.is_none()) {
            None
        } else {
            let [fixed, percent, variable] =
                discount_fields.map(|f| f.as_ref().and_then(|v| v.as_deref()));
            Some(Discount::from_fields(fixed, percent, variable)?)
        };
        Ok(CouponPatch {
            uses_left: self.availability_count,
            product_id: patch(self.product_id, |p| {
                parse_label("product_id", p, MAX_PRODUCT_ID_CHARS)
            })?,
            promo_type: patch(self.promo_type, |p| {
                parse_label("promo_type", p, MAX_PROMO_TYPE_CHARS)
            })?,
            discount,
            currency: patch(self.currency, parse_currency)?,
            min_order_amount: patch(self.min_order_amount, |m| {
                Money::parse("min_order_amount", m)
            })?,
            max_uses_per_customer: self
                .max_uses_per_customer
                .map(|m| m.map(parse_uses_per_customer).transpose())
                .transpose()?,
            starts_at: patch(self.starts_at, |t| parse_instant("starts_at", t))?,
            expires_at: patch(self.expiry_date, |t| parse_instant("expiry_date", t))?,
            active: self.active,
            metadata: None,
        })
    }
}

/// Applies `parse` to a set value, keeps "clear" and "leave alone" as they are.
fn patch<T>(
    value: Option<Option<String>>,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Result<Option<Option<T>>, Invalid> {
    value
        .map(|v| v.map(|text| parse(&text)).transpose())
        .transpose()
}
