//! `PUT /campaigns/{campaign_id}`: changes the offer, `active` or budgets
//! of every code of the campaign in one write.

use common::campaign::CampaignId;
use common::http::json;
use common::store::{CampaignStore, Missing, StoreError};
use common::tenant::TenantId;
use common::views::CampaignView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::{fields, not_found};

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    id: &CampaignId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let patch = fields::patch(req).await?;
    if patch.is_empty() {
        return Err(ApiError::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    match app
        .store
        .update_campaign(tenant, id, &patch, app.clock.now())
        .await
    {
        Ok(campaign) => Ok(json(StatusCode::OK, &CampaignView::of(&campaign))),
        Err(StoreError::NotFound(Missing::Campaign)) => Err(not_found(id)),
        Err(e) => Err(e.into()),
    }
}
