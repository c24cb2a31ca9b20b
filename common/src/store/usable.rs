//! The condition that makes taking a use from a coupon item safe: it must
//! still be usable and still carry the terms the caller saw.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::item::*;
use crate::coupon::{Coupon, Redeem, expiry_second};

/// The coupon condition of consume and reserve: the same rules as
/// `Coupon::refusal`, evaluated by DynamoDB at write time, plus "still
/// carries the terms `seen` shows", so the log row copies true terms.
pub(super) fn usable_condition(
    seen: &Coupon,
    redeem: &Redeem,
    needs_a_use: bool,
    now: DateTime<Utc>,
    values: &mut Item,
) -> String {
    // Every consume builds this: one string, clauses joined by " AND ".
    let mut condition = String::with_capacity(640);
    condition.push_str(
        "attribute_exists(PK) AND active = :true AND created_at = :seen_created_at \
         AND (attribute_not_exists(starts_at) OR starts_at <= :now) \
         AND (attribute_not_exists(expires_at) OR expires_at >= :expiry_second)",
    );
    values.insert(":true".into(), AttributeValue::Bool(true));
    values.insert(":seen_created_at".into(), time(seen.created_at));
    values.insert(":expiry_second".into(), time(expiry_second(now)));
    if needs_a_use {
        condition.push_str(" AND uses_left > :zero");
    }
    // A personal code is its customer's alone, whoever it was assigned to
    // since `seen` was read.
    match &redeem.customer_id {
        Some(customer) => {
            condition.push_str(
                " AND (attribute_not_exists(customer_id) OR customer_id = :asked_customer)",
            );
            values.insert(":asked_customer".into(), s(customer));
        }
        None => condition.push_str(" AND attribute_not_exists(customer_id)"),
    }
    if let Some(product_id) = &redeem.product_id {
        condition
            .push_str(" AND (attribute_not_exists(product_id) OR product_id = :asked_product)");
        values.insert(":asked_product".into(), s(product_id));
    }
    // A campaign code's item carries no terms (they are the campaign's,
    // pinned by its budget shard's revision instead).
    let own = seen.campaign_id.is_none();
    let discount = seen.discount.filter(|_| own).map(discount_attrs);
    // Each term: its attribute, its placeholder, and the value `seen` shows.
    let terms = [
        (
            "product_id",
            ":seen_product_id",
            seen.product_id.clone().map(s),
        ),
        (
            "promo_type",
            ":seen_promo_type",
            seen.promo_type.clone().map(s),
        ),
        ("currency", ":seen_currency", seen.currency.clone().map(s)),
        (
            "discount_type",
            ":seen_discount_type",
            discount.clone().map(|(kind, _)| kind),
        ),
        (
            "discount_value",
            ":seen_discount_value",
            discount.map(|(_, value)| value),
        ),
        (
            "min_order_amount",
            ":seen_min_order_amount",
            seen.min_order_amount.map(|m| n(m.minor())),
        ),
        (
            "max_uses_per_customer",
            ":seen_max_uses_per_customer",
            seen.max_uses_per_customer.map(n),
        ),
    ];
    for (name, placeholder, value) in terms {
        let value = value.filter(|_| own);
        condition.push_str(" AND ");
        match value {
            Some(value) => {
                condition.push_str(name);
                condition.push_str(" = ");
                condition.push_str(placeholder);
                values.insert(placeholder.to_owned(), value);
            }
            None => {
                condition.push_str("attribute_not_exists(");
                condition.push_str(name);
                condition.push(')');
            }
        }
    }
    condition
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    #[test]
    fn the_consume_condition_checks_every_rule_and_term() {
        let now = crate::dates::now();
        let seen = Coupon {
            product_id: Some("apple123".into()),
            discount: Some(crate::offer::Discount::Fixed(Money::from_minor(2_000))),
            currency: Some("EUR".into()),
            max_uses_per_customer: Some(2),
            ..Coupon::bare("ABCD", now)
        };
        let redeem = Redeem {
            product_id: Some("apple123".into()),
            ..Redeem::default()
        };
        let mut values = Item::new();
        let condition = usable_condition(&seen, &redeem, true, now, &mut values);
        assert_eq!(
            condition,
            "attribute_exists(PK) AND active = :true AND created_at = :seen_created_at \
             AND (attribute_not_exists(starts_at) OR starts_at <= :now) \
             AND (attribute_not_exists(expires_at) OR expires_at >= :expiry_second) \
             AND uses_left > :zero AND attribute_not_exists(customer_id) \
             AND (attribute_not_exists(product_id) OR product_id = :asked_product) \
             AND product_id = :seen_product_id AND attribute_not_exists(promo_type) \
             AND currency = :seen_currency AND discount_type = :seen_discount_type \
             AND discount_value = :seen_discount_value \
             AND attribute_not_exists(min_order_amount) \
             AND max_uses_per_customer = :seen_max_uses_per_customer"
        );
        let mut names: Vec<&str> = values.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                ":asked_product",
                ":expiry_second",
                ":seen_created_at",
                ":seen_currency",
                ":seen_discount_type",
                ":seen_discount_value",
                ":seen_max_uses_per_customer",
                ":seen_product_id",
                ":true",
            ]
        );
        assert_eq!(values[":seen_discount_value"], n(2_000));

        // Naming a customer: a code with no owner, or that customer's.
        let redeem = Redeem {
            customer_id: Some("ann".into()),
            ..redeem
        };
        let mut values = Item::new();
        let condition = usable_condition(&seen, &redeem, true, now, &mut values);
        assert!(
            condition.contains(
                " AND (attribute_not_exists(customer_id) OR customer_id = :asked_customer) "
            ),
            "{condition}"
        );
        assert_eq!(values[":asked_customer"], s("ann"));
    }
}
