//! `GET /coupon?limit=N&cursor=X`: the tenant's coupons by code, a page at a time.

use common::code::CouponCode;
use common::http::json;
use common::store::CouponStore;
use common::tenant::TenantId;
use common::views::{CouponView, ListView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

const DEFAULT_LIMIT: u64 = 25;
const MAX_LIMIT: u64 = 100;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    limit: Option<u64>,
    cursor: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Invalid(format!("limit must be 1 to {MAX_LIMIT}")));
    }
    // The cursor is the last code of the previous page; the tenant part of
    // the key is always the caller's, so a cursor cannot reach another tenant.
    let after = cursor
        .map(|c| CouponCode::parse(c).map_err(|_| ApiError::Invalid("cursor is not valid".into())))
        .transpose()?;
    let page = app
        .store
        .list_coupons(tenant, limit as u32, after.as_ref())
        .await?;
    let data = page.items.iter().map(CouponView::of).collect();
    Ok(json(
        StatusCode::OK,
        &ListView::page(data, page.next.map(|code| code.as_str().to_owned())),
    ))
}
