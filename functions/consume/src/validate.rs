//! `GET /coupon/consume`: can this code be used, and what would it take
//! off the order? Changes nothing, except giving back the uses of
//! reservations that expired.

use common::http::json;
use common::refusal::Refusal;
use common::store::{CampaignStore, CustomerCountStore, ReleaseStore};
use common::tenant::TenantId;
use common::views::{CouponView, PricingView, ValidationView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::redeem::{params, read_coupon, shown_to};

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let parsed = params(req).await?;
    if parsed.reservation_id.is_some() || parsed.ttl_seconds.is_some() || parsed.metadata.is_some()
    {
        return Err(ApiError::Invalid(
            "validate takes code, product_id, customer_id, order_amount and currency".into(),
        ));
    }
    let redeem = parsed.redeem;
    let mut coupon = shown_to(read_coupon(app, tenant, &parsed.code).await?, &redeem)?;
    // What is left of a campaign's budgets lives in its shards: read them
    // too, so validate can say `budget_exhausted` (consume's write decides
    // without this read).
    if let Some(id) = &coupon.campaign_id
        && let Some(campaign) = app.store.get_campaign(tenant, id).await?
    {
        coupon = coupon.in_campaign(&campaign);
    }
    let now = app.clock.now();
    let mut refusal = coupon.refusal(now, &redeem);
    if coupon.exhausted_but_held(refusal) {
        let released = app.store.reclaim_expired(tenant, &coupon.code, now).await?;
        coupon.uses_left += released;
        coupon.reserved_count -= released.min(coupon.reserved_count);
        refusal = coupon.refusal(now, &redeem);
    }
    if refusal.is_none()
        && let (Some(max), Some(customer)) = (coupon.max_uses_per_customer, &redeem.customer_id)
        && app.store.customer_uses(tenant, &coupon, customer).await? >= max
    {
        refusal = Some(Refusal::CustomerLimitReached);
    }
    let pricing = coupon.pricing(&redeem);
    Ok(json(
        StatusCode::OK,
        &ValidationView {
            valid: refusal.is_none(),
            reason: refusal.map(|r| r.code()),
            pricing: pricing.as_ref().map(PricingView::of),
            coupon: CouponView::of(&coupon),
        },
    ))
}
