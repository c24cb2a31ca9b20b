//! `POST /coupon/assign`: hands one unassigned code of a campaign (its
//! pool) to a customer, making it that customer's personal code. The same
//! `customer_id` and `source_id` (the shop's own id for the assignment)
//! get the same code again; an empty pool is 409 `pool_empty`.

use common::campaign::CampaignId;
use common::coupon::MAX_CUSTOMER_ID_CHARS;
use common::http::json;
use common::offer::parse_label;
use common::request::{self, lenient};
use common::store::{AssignStore, Assigned, Assignment, CampaignStore, Missing, StoreError};
use common::tenant::TenantId;
use common::views::CouponView;
use common::{ApiError, App};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

/// A shop's own ids for assignments are at most this long.
const MAX_SOURCE_ID_CHARS: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignRequest {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    customer_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    campaign_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    source_id: Option<String>,
}

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: AssignRequest = request::decode(request::body_fields(req).await?)?;
    let required = |field: &str| ApiError::Invalid(format!("{field} is required"));
    let customer = body.customer_id.ok_or_else(|| required("customer_id"))?;
    let customer = parse_label("customer_id", &customer, MAX_CUSTOMER_ID_CHARS)?;
    let campaign = body.campaign_id.ok_or_else(|| required("campaign_id"))?;
    let campaign = CampaignId::parse(&campaign)?;
    let source_id = body
        .source_id
        .map(|id| parse_label("source_id", &id, MAX_SOURCE_ID_CHARS))
        .transpose()?;
    let assignment = Assignment {
        campaign: &campaign,
        customer: &customer,
        source_id: source_id.as_deref(),
        now: app.clock.now(),
    };
    match app.store.assign_from_pool(tenant, assignment).await {
        Ok(Assigned::Fresh(coupon)) => Ok(json(StatusCode::CREATED, &CouponView::of(&coupon))),
        Ok(Assigned::Again(coupon)) => {
            let mut response = json(StatusCode::OK, &CouponView::of(&coupon));
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(response)
        }
        // An empty pool of a campaign that is not there is no campaign.
        Err(StoreError::PoolEmpty(_))
            if app.store.get_campaign(tenant, &campaign).await?.is_none() =>
        {
            Err(ApiError::NotFound(format!("no campaign {campaign}")))
        }
        Err(StoreError::NotFound(Missing::Coupon)) => Err(ApiError::NotFound(format!(
            "the code assigned for source_id {} was deleted since",
            source_id.as_deref().unwrap_or_default()
        ))),
        Err(e) => Err(e.into()),
    }
}
