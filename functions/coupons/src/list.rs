//! `GET /coupon?limit=N&cursor=X[&campaign_id=ID | &customer_id=C]`: the
//! tenant's coupons (or one campaign's codes, or one customer's personal
//! codes) by code, a page at a time.

use common::campaign::CampaignId;
use common::code::CouponCode;
use common::coupon::MAX_CUSTOMER_ID_CHARS;
use common::http::json;
use common::offer::parse_label;
use common::request;
use common::store::{CampaignStore, CouponStore};
use common::tenant::TenantId;
use common::views::{CouponView, ListView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::CouponQuery;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    query: CouponQuery,
) -> Result<Response<Body>, ApiError> {
    let limit = request::page_limit(query.limit)?;
    // The cursor is the last code of the previous page; the tenant part of
    // the key is always the caller's, so a cursor cannot reach another tenant.
    let after = query
        .cursor
        .map(|c| CouponCode::parse(&c).map_err(|_| ApiError::Invalid("cursor is not valid".into())))
        .transpose()?;
    let after = after.as_ref();
    let page = match (query.campaign_id, query.customer_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Invalid(
                "list one campaign's codes or one customer's, not both".into(),
            ));
        }
        (Some(campaign), None) => {
            let campaign = CampaignId::parse(&campaign)?;
            let page = app
                .store
                .list_campaign_coupons(tenant, &campaign, limit, after)
                .await?;
            if page.items.is_empty() && app.store.get_campaign(tenant, &campaign).await?.is_none() {
                return Err(ApiError::NotFound(format!("no campaign {campaign}")));
            }
            page
        }
        (None, Some(customer)) => {
            let customer = parse_label("customer_id", &customer, MAX_CUSTOMER_ID_CHARS)?;
            app.store
                .list_customer_coupons(tenant, &customer, limit, after)
                .await?
        }
        (None, None) => app.store.list_coupons(tenant, limit, after).await?,
    };
    let data = page.items.iter().map(CouponView::of).collect();
    Ok(json(
        StatusCode::OK,
        &ListView::page(data, page.next.map(|code| code.as_str().to_owned())),
    ))
}
