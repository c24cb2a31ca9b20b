//! `POST /campaigns`: a campaign with its offer and budgets.

use common::campaign::{Budget, Campaign, Offer, check};
use common::http::json;
use common::store::CampaignStore;
use common::tenant::TenantId;
use common::views::CampaignView;
use common::{ApiError, App};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::fields;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let patch = fields::patch(req).await?;
    let Some(name) = patch.name.clone() else {
        return Err(ApiError::Invalid("name is required".into()));
    };
    let blank = Campaign::new(
        name,
        Offer::default(),
        true,
        Budget::default(),
        app.clock.now(),
    );
    let campaign = patch.apply(&blank);
    check(&campaign.offer, &campaign.budget)?;
    app.store.create_campaign(tenant, &campaign).await?;
    let mut response = json(StatusCode::CREATED, &CampaignView::of(&campaign));
    if let Ok(location) = HeaderValue::from_str(&format!("/campaigns/{}", campaign.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
