//! What validate, consume and reserve share: their parameters and the
//! coupon lookup.

use common::code::CouponCode;
use common::coupon::{Coupon, MAX_CUSTOMER_ID_CHARS, Order, Redeem};
use common::metadata::Metadata;
use common::money::Money;
use common::offer::{MAX_PRODUCT_ID_CHARS, parse_currency, parse_label};
use common::request::{self, lenient};
use common::store::{CouponStore, Missing, StoreError};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::Request;
use serde::Deserialize;

/// The fields of validate, consume and reserve, from the query string (as
/// the original API sends them) or the body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(deserialize_with = "lenient::text")]
    pub code: String,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub product_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub customer_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub order_amount: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub currency: Option<String>,
    /// Consume only: the reservation to convert.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub reservation_id: Option<String>,
    /// Reserve only: how long the hold lasts.
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub ttl_seconds: Option<u64>,
}

/// A request's coupon code and what it asks for.
pub struct Parsed {
    pub code: CouponCode,
    pub redeem: Redeem,
    /// Consume only: the consume's own metadata (`None`: not given).
    pub metadata: Option<Metadata>,
    pub reservation_id: Option<String>,
    pub ttl_seconds: Option<u64>,
}

pub async fn params(req: &Request) -> Result<Parsed, ApiError> {
    let mut fields = request::merge(
        request::query_fields(req)?,
        request::body_fields(req).await?,
    )?;
    let metadata = request::take_metadata(&mut fields)?;
    let params: Params = request::decode(fields)?;
    let label = |field: &str, value: Option<String>, max: usize| {
        value.map(|v| parse_label(field, &v, max)).transpose()
    };
    let currency = params.currency.map(|c| parse_currency(&c)).transpose()?;
    let order = match (params.order_amount, currency) {
        (Some(amount), currency) => Some(Order {
            amount: Money::parse("order_amount", &amount)?,
            currency,
        }),
        (None, Some(_)) => {
            return Err(ApiError::Invalid(
                "currency describes order_amount: give both or neither".into(),
            ));
        }
        (None, None) => None,
    };
    Ok(Parsed {
        code: CouponCode::parse(&params.code)?,
        redeem: Redeem {
            product_id: label("product_id", params.product_id, MAX_PRODUCT_ID_CHARS)?,
            customer_id: label("customer_id", params.customer_id, MAX_CUSTOMER_ID_CHARS)?,
            order,
        },
        metadata,
        reservation_id: label("reservation_id", params.reservation_id, 64)?,
        ttl_seconds: params.ttl_seconds,
    })
}

/// The coupon as stored now; remembered for a following consume.
pub async fn read_coupon(
    app: &App,
    tenant: &TenantId,
    code: &CouponCode,
) -> Result<Coupon, ApiError> {
    let key = (tenant.clone(), code.clone());
    match app.store.get_coupon(tenant, code).await? {
        Some(coupon) => {
            app.recent_coupons.insert(key, coupon.clone());
            Ok(coupon)
        }
        None => {
            app.recent_coupons.remove(&key);
            Err(no_coupon(code))
        }
    }
}

/// The answer for a code the caller may not see: an unknown one, or
/// another customer's personal code. Both are the same 404, word for word,
/// and both count as a miss against guessing.
pub fn no_coupon(code: &CouponCode) -> ApiError {
    ApiError::NotFound(format!("no coupon {code}"))
}

/// `coupon`, unless it is a personal code `redeem` may not use.
pub fn shown_to(coupon: Coupon, redeem: &Redeem) -> Result<Coupon, ApiError> {
    if coupon.hidden_from(redeem) {
        return Err(no_coupon(&coupon.code));
    }
    Ok(coupon)
}

/// A store error of a consume or reserve of `code`, as the client hears it:
/// a coupon gone (or found to be someone else's) at the write is `no_coupon`.
pub fn write_failed(e: StoreError, code: &CouponCode) -> ApiError {
    match e {
        StoreError::NotFound(Missing::Coupon) => no_coupon(code),
        e => e.into(),
    }
}
