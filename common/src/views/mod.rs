//! Every response body of the API, as `#[derive(Serialize)]` views of the
//! domain types, in this module (events', jobs' and exports' in its files).
//! Handlers build a view and answer it; nothing patches a body after the
//! fact. Fields are declared in alphabetical order,
//! the order the bodies had when they were `json!` maps.

use serde::Serialize;

use crate::campaign::{Campaign, CampaignId};
use crate::coupon::{Coupon, Pricing, Redemption, RedemptionKind, Reservation, ReservationState};
use crate::dates;
use crate::metadata::Metadata;
use crate::money::Money;
use crate::offer::Discount;
use chrono::{DateTime, Utc};

mod events;
mod exports;
mod jobs;
mod stats;

pub use events::{
    BusEventView, DeletedCouponView, DeliveryView, EventView, ExhaustedCouponView,
    WebhookSecretView, WebhookView, WrittenExportView,
};
pub use exports::{CodesExportView, ExportView};
pub use jobs::JobView;
pub use stats::StatsView;

#[derive(Serialize)]
pub struct CouponView<'a> {
    active: bool,
    availability_count: u64,
    /// The campaign whose terms a campaign code shows.
    campaign_id: Option<&'a str>,
    code: &'a str,
    created_at: String,
    currency: Option<&'a str>,
    /// A personal code's customer.
    customer_id: Option<&'a str>,
    discount: Option<DiscountView>,
    expiry_date: Option<String>,
    high_demand: bool,
    /// A campaign's term.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_discount_amount: Option<String>,
    max_uses_per_customer: Option<u64>,
    metadata: &'a Metadata,
    min_order_amount: Option<String>,
    object: &'static str,
    product_id: Option<&'a str>,
    /// A campaign's term: the products its codes apply to.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    product_ids: &'a [String],
    promo_type: Option<&'a str>,
    redeemed_count: u64,
    reserved_count: u64,
    starts_at: Option<String>,
    updated_at: String,
}

impl<'a> CouponView<'a> {
    pub fn of(coupon: &'a Coupon) -> CouponView<'a> {
        let campaign = coupon.campaign.as_deref();
        CouponView {
            active: coupon.active,
            availability_count: coupon.uses_left,
            campaign_id: coupon.campaign_id.as_ref().map(CampaignId::as_str),
            code: coupon.code.as_str(),
            created_at: dates::format(coupon.created_at),
            currency: coupon.currency.as_deref(),
            customer_id: coupon.owner.as_deref(),
            discount: coupon.discount.map(DiscountView::of),
            expiry_date: coupon.expires_at.map(dates::format),
            high_demand: coupon.shards > 0,
            max_discount_amount: campaign
                .and_then(|c| c.max_discount_amount)
                .map(|m| m.to_string()),
            max_uses_per_customer: coupon.max_uses_per_customer,
            metadata: &coupon.metadata,
            min_order_amount: coupon.min_order_amount.map(|m| m.to_string()),
            object: "coupon",
            product_id: coupon.product_id.as_deref(),
            product_ids: campaign.map_or(&[], |c| &c.product_ids),
            promo_type: coupon.promo_type.as_deref(),
            redeemed_count: coupon.redeemed_count,
            reserved_count: coupon.reserved_count,
            starts_at: coupon.starts_at.map(dates::format),
            updated_at: dates::format(coupon.updated_at),
        }
    }
}

/// A campaign: its offer, budgets, and what its codes have spent.
#[derive(Serialize)]
pub struct CampaignView<'a> {
    active: bool,
    budget_amount: Option<String>,
    /// What is left of `budget_amount` (`null` without one).
    budget_amount_left: Option<String>,
    budget_uses: Option<u64>,
    /// What is left of `budget_uses` (`null` without one).
    budget_uses_left: Option<u64>,
    campaign_id: &'a str,
    /// Codes that belong to it.
    coupon_count: u64,
    created_at: String,
    currency: Option<&'a str>,
    discount: Option<DiscountView>,
    /// Discount given over all its codes (rolled-back uses not counted).
    discount_total: String,
    expiry_date: Option<String>,
    max_discount_amount: Option<String>,
    max_uses_per_customer: Option<u64>,
    metadata: &'a Metadata,
    min_order_amount: Option<String>,
    name: &'a str,
    object: &'static str,
    product_id: Option<&'a str>,
    product_ids: &'a [String],
    promo_type: Option<&'a str>,
    redeemed_count: u64,
    /// Uses (and their discount) held by reservations of its codes.
    reserved_amount: String,
    reserved_count: u64,
    starts_at: Option<String>,
    updated_at: String,
}

impl<'a> CampaignView<'a> {
    pub fn of(campaign: &'a Campaign) -> CampaignView<'a> {
        let offer = &campaign.offer;
        let spent = campaign.spent.unwrap_or_default();
        let money = |m: Money| m.to_string();
        CampaignView {
            active: campaign.active,
            budget_amount: campaign.budget.amount.map(money),
            budget_amount_left: campaign.amount_left().map(money),
            budget_uses: campaign.budget.uses,
            budget_uses_left: campaign.uses_left(),
            campaign_id: campaign.id.as_str(),
            coupon_count: campaign.coupon_count,
            created_at: dates::format(campaign.created_at),
            currency: offer.currency.as_deref(),
            discount: offer.discount.map(DiscountView::of),
            discount_total: money(Money::from_minor(spent.discount_total)),
            expiry_date: offer.expires_at.map(dates::format),
            max_discount_amount: offer.max_discount_amount.map(money),
            max_uses_per_customer: offer.max_uses_per_customer,
            metadata: &campaign.metadata,
            min_order_amount: offer.min_order_amount.map(money),
            name: &campaign.name,
            object: "campaign",
            product_id: offer.product_id.as_deref(),
            product_ids: &offer.product_ids,
            promo_type: offer.promo_type.as_deref(),
            redeemed_count: spent.redeemed_count,
            reserved_amount: money(Money::from_minor(spent.held_amount)),
            reserved_count: spent.held_uses,
            starts_at: offer.starts_at.map(dates::format),
            updated_at: dates::format(campaign.updated_at),
        }
    }
}

#[derive(Serialize)]
pub struct DiscountView {
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
}

impl DiscountView {
    pub fn of(discount: Discount) -> DiscountView {
        match discount {
            Discount::Fixed(money) => DiscountView {
                kind: "fixed",
                value: money.to_string(),
            },
            Discount::Percent(percent) => DiscountView {
                kind: "percent",
                value: percent.to_string(),
            },
        }
    }
}

#[derive(Serialize)]
pub struct PricingView<'a> {
    currency: Option<&'a str>,
    discount_amount: String,
    discount_amount_minor: u64,
    final_amount: String,
    order_amount: String,
}

impl<'a> PricingView<'a> {
    pub fn of(pricing: &'a Pricing) -> PricingView<'a> {
        let paid = pricing.order_amount.minor() - pricing.discount_amount.minor();
        PricingView {
            currency: pricing.currency.as_deref(),
            discount_amount: pricing.discount_amount.to_string(),
            discount_amount_minor: pricing.discount_amount.minor(),
            final_amount: Money::from_minor(paid).to_string(),
            order_amount: pricing.order_amount.to_string(),
        }
    }
}

/// `GET /coupon/consume`: whether the code can be used for this request.
#[derive(Serialize)]
pub struct ValidationView<'a> {
    pub coupon: CouponView<'a>,
    /// The discount on the order, when the request names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<PricingView<'a>>,
    pub reason: Option<&'static str>,
    pub valid: bool,
}

/// A consume (`object: redemption`) or a rollback (`object: reversal`).
#[derive(Serialize)]
pub struct RedemptionView<'a> {
    /// Uses the coupon has left after a consume (`null` on a reversal).
    availability_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<&'a str>,
    code: &'a str,
    consumed_at: String,
    currency: Option<&'a str>,
    customer_id: Option<&'a str>,
    discount: Option<DiscountView>,
    metadata: &'a Metadata,
    object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing: Option<PricingView<'a>>,
    product_id: Option<&'a str>,
    promo_type: Option<&'a str>,
    redemption_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reservation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reverses: Option<&'a str>,
    /// A consume's reversal, once rolled back (on the log's rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    rolled_back_by: Option<&'a str>,
    /// A rollback's: whether the use went back (not when the coupon was
    /// deleted since; the reversal is logged all the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    use_returned: Option<bool>,
}

impl<'a> RedemptionView<'a> {
    /// The consume response: the redemption, and the uses the coupon has left.
    pub fn consumed(row: &'a Redemption, uses_left: u64) -> RedemptionView<'a> {
        RedemptionView {
            availability_count: Some(uses_left),
            ..RedemptionView::of(row)
        }
    }

    /// The rollback response.
    pub fn reversal(row: &'a Redemption, use_returned: bool) -> RedemptionView<'a> {
        RedemptionView {
            use_returned: Some(use_returned),
            ..RedemptionView::of(row)
        }
    }

    /// A row of the log as `GET /redemptions` lists it.
    pub fn logged(row: &'a Redemption) -> RedemptionView<'a> {
        RedemptionView {
            rolled_back_by: row.rolled_back_by.as_deref(),
            ..RedemptionView::of(row)
        }
    }

    fn of(row: &'a Redemption) -> RedemptionView<'a> {
        RedemptionView {
            availability_count: None,
            campaign_id: row.campaign.as_ref().map(|c| c.campaign_id.as_str()),
            code: row.code.as_str(),
            consumed_at: dates::format(row.consumed_at),
            currency: row.currency.as_deref(),
            customer_id: row.customer_id.as_deref(),
            discount: row.discount.map(DiscountView::of),
            metadata: &row.metadata,
            object: match row.kind {
                RedemptionKind::Consume => "redemption",
                RedemptionKind::Reversal => "reversal",
            },
            pricing: row.pricing.as_ref().map(PricingView::of),
            product_id: row.product_id.as_deref(),
            promo_type: row.promo_type.as_deref(),
            redemption_id: &row.redemption_id,
            reservation_id: row.reservation_id.as_deref(),
            reverses: row.reverses.as_deref(),
            rolled_back_by: None,
            use_returned: None,
        }
    }
}

/// `GET /redemptions/{redemption_id}`: a row of the log, with its reversal
/// when it is a consume that was rolled back.
#[derive(Serialize)]
pub struct LedgerEntryView<'a> {
    #[serde(flatten)]
    pub row: RedemptionView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal: Option<RedemptionView<'a>>,
}

#[derive(Serialize)]
pub struct ReservationView<'a> {
    /// Uses the coupon has left, on the answer to the reserve itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_count: Option<u64>,
    code: &'a str,
    created_at: String,
    customer_id: Option<&'a str>,
    expires_at: String,
    object: &'static str,
    reservation_id: &'a str,
    status: &'static str,
}

impl<'a> ReservationView<'a> {
    /// A reservation as it stands at `now` (a held one past its time shows
    /// `expired`).
    pub fn of(held: &'a Reservation, now: DateTime<Utc>) -> ReservationView<'a> {
        let status = match held.state {
            ReservationState::Held if held.expires_at <= now => "expired",
            state => state.as_str(),
        };
        ReservationView {
            availability_count: None,
            code: held.code.as_str(),
            created_at: dates::format(held.created_at),
            customer_id: held.customer_id.as_deref(),
            expires_at: dates::format(held.expires_at),
            object: "reservation",
            reservation_id: &held.reservation_id,
            status,
        }
    }

    /// The answer to a reserve: the reservation and the uses left beside it.
    pub fn made(held: &'a Reservation, now: DateTime<Utc>, uses_left: u64) -> ReservationView<'a> {
        ReservationView {
            availability_count: Some(uses_left),
            ..ReservationView::of(held, now)
        }
    }
}

/// A list: a page of a paginated one (`has_more`, `next_cursor`), a job's
/// codes (`count`, `next_cursor`), or a create's coupons (`count`).
#[derive(Serialize)]
pub struct ListView<T: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    data: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    has_more: Option<bool>,
    /// Present (`null` on the last page) on every list that pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<Option<String>>,
    object: &'static str,
}

impl<T: Serialize> ListView<T> {
    /// A page of a paginated list.
    pub fn page(data: Vec<T>, next_cursor: Option<String>) -> ListView<T> {
        ListView {
            count: None,
            has_more: Some(next_cursor.is_some()),
            next_cursor: Some(next_cursor),
            data,
            object: "list",
        }
    }

    /// A page of a job's codes: counted, and a cursor to poll with.
    pub fn counted_page(data: Vec<T>, next_cursor: Option<String>) -> ListView<T> {
        ListView {
            count: Some(data.len()),
            has_more: None,
            next_cursor: Some(next_cursor),
            data,
            object: "list",
        }
    }

    /// Everything at once (the coupons one create made).
    pub fn all(data: Vec<T>) -> ListView<T> {
        ListView {
            count: Some(data.len()),
            has_more: None,
            next_cursor: None,
            data,
            object: "list",
        }
    }
}

/// `GET /ping`.
#[derive(Serialize)]
pub struct PingView {
    pub status: &'static str,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_coupon_view_has_every_field_in_order() {
        let now = dates::now();
        let coupon = Coupon {
            discount: Some(Discount::Fixed(Money::from_minor(250))),
            ..Coupon::bare("ABCD", now)
        };
        let body = serde_json::to_value(CouponView::of(&coupon)).unwrap();
        assert_eq!(body["discount"], json!({"type": "fixed", "value": "2.50"}));
        assert_eq!(body["object"], "coupon");
        assert_eq!(body["expiry_date"], serde_json::Value::Null);
        // Byte for byte what a `json!` map of the same fields writes.
        let text = serde_json::to_string(&CouponView::of(&coupon)).unwrap();
        assert_eq!(text, serde_json::to_string(&body).unwrap());
    }

    #[test]
    fn a_page_says_whether_more_follow() {
        let page = serde_json::to_value(ListView::page(vec![1, 2], Some("c".into()))).unwrap();
        assert_eq!(
            page,
            json!({"object": "list", "data": [1, 2], "has_more": true, "next_cursor": "c"})
        );
        let last = serde_json::to_value(ListView::<u8>::page(vec![], None)).unwrap();
        assert_eq!(last["next_cursor"], serde_json::Value::Null);
        assert_eq!(last["has_more"], false);
    }
}
