//! `GET /campaigns/{campaign_id}`: a campaign with what its codes have spent.

use common::campaign::CampaignId;
use common::http::json;
use common::store::CampaignStore;
use common::tenant::TenantId;
use common::views::CampaignView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use crate::not_found;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    id: &CampaignId,
) -> Result<Response<Body>, ApiError> {
    match app.store.get_campaign(tenant, id).await? {
        Some(campaign) => Ok(json(StatusCode::OK, &CampaignView::of(&campaign))),
        None => Err(not_found(id)),
    }
}
