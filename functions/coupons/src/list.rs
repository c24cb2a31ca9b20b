//! `GET /coupon?limit=N&cursor=X[&campaign_id=ID]`: the tenant's coupons
//! (or one campaign's codes) by code, a page at a time.

use common::campaign::CampaignId;
use common::code::CouponCode;
use common::http::json;
use common::request;
use common::store::{CampaignStore, CouponStore};
use common::tenant::TenantId;
use common::views::{CouponView, ListView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    limit: Option<u64>,
    cursor: Option<&str>,
    campaign: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let limit = request::page_limit(limit)?;
    // The cursor is the last code of the previous page; the tenant part of
    // the key is always the caller's, so a cursor cannot reach another tenant.
    let after = cursor
        .map(|c| CouponCode::parse(c).map_err(|_| ApiError::Invalid("cursor is not valid".into())))
        .transpose()?;
    let page = match campaign {
        Some(campaign) => {
            let campaign = CampaignId::parse(campaign)?;
            let page = app
                .store
                .list_campaign_coupons(tenant, &campaign, limit, after.as_ref())
                .await?;
            if page.items.is_empty() && app.store.get_campaign(tenant, &campaign).await?.is_none() {
                return Err(ApiError::NotFound(format!("no campaign {campaign}")));
            }
            page
        }
        None => {
            app.store
                .list_coupons(tenant, limit, after.as_ref())
                .await?
        }
    };
    let data = page.items.iter().map(CouponView::of).collect();
    Ok(json(
        StatusCode::OK,
        &ListView::page(data, page.next.map(|code| code.as_str().to_owned())),
    ))
}
