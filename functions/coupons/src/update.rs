//! `PUT /coupon/{code}`: changes a coupon's attributes. A field left out
//! stays as it is; `null` (or an empty form value) clears an optional one.

use common::code::CouponCode;
use common::coupon::{
    CouponPatch, Discount, MAX_AVAILABILITY, MAX_PRODUCT_ID_CHARS, MAX_PROMO_TYPE_CHARS,
    parse_currency, parse_label, parse_uses_per_customer,
};
use common::dates::parse_instant;
use common::http::json;
use common::money::Money;
use common::request::{self, lenient};
use common::store::{CouponStore, StoreError};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRequest {
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
    #[serde(default, deserialize_with = "lenient::patch_text")]
    max_uses_per_customer: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    active: Option<bool>,
}

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    code: &str,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let code = CouponCode::parse(code)?;
    let body: UpdateRequest = request::decode(request::body_fields(req).await?)?;
    let patch = parse(body)?;
    if patch.is_empty() {
        return Err(ApiError::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    match app
        .store
        .update_coupon(tenant, &code, &patch, app.clock.now())
        .await
    {
        Ok(coupon) => Ok(json(StatusCode::OK, &coupon.to_json())),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(format!("no coupon {code}"))),
        Err(e) => Err(e.into()),
    }
}

/// Applies `parse` to a set value, keeps "clear" and "leave alone" as they are.
fn patch<T>(
    value: Option<Option<String>>,
    parse: impl FnOnce(&str) -> Result<T, ApiError>,
) -> Result<Option<Option<T>>, ApiError> {
    value
        .map(|v| v.map(|text| parse(&text)).transpose())
        .transpose()
}

fn parse(body: UpdateRequest) -> Result<CouponPatch, ApiError> {
    if body
        .availability_count
        .is_some_and(|n| n > MAX_AVAILABILITY)
    {
        return Err(ApiError::Invalid(format!(
            "availability_count must be 0 to {MAX_AVAILABILITY}"
        )));
    }
    // Any discount field present replaces the discount; all of them null clears it.
    let discount_fields = [
        &body.discount_fixed,
        &body.discount_percent,
        &body.discount_variable,
    ];
    let discount = if discount_fields.iter().all(|f| f.is_none()) {
        None
    } else {
        let [fixed, percent, variable] =
            discount_fields.map(|f| f.as_ref().and_then(|v| v.as_deref()));
        Some(Discount::from_fields(fixed, percent, variable)?)
    };
    Ok(CouponPatch {
        uses_left: body.availability_count,
        product_id: patch(body.product_id, |p| {
            parse_label("product_id", p, MAX_PRODUCT_ID_CHARS)
        })?,
        promo_type: patch(body.promo_type, |p| {
            parse_label("promo_type", p, MAX_PROMO_TYPE_CHARS)
        })?,
        discount,
        currency: patch(body.currency, parse_currency)?,
        min_order_amount: patch(body.min_order_amount, |m| {
            Money::parse("min_order_amount", m)
        })?,
        max_uses_per_customer: patch(body.max_uses_per_customer, |m| {
            parse_uses_per_customer(m.parse().ok())
        })?,
        starts_at: patch(body.starts_at, |t| parse_instant("starts_at", t))?,
        expires_at: patch(body.expiry_date, |t| parse_instant("expiry_date", t))?,
        active: body.active,
    })
}
