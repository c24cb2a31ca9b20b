//! `DELETE /campaigns/{campaign_id}`: removes a campaign that has no codes
//! (any more); the redemption log keeps its campaign id.

use common::campaign::CampaignId;
use common::http::no_content;
use common::store::{CampaignStore, Missing, StoreError};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::{Body, Response};

use crate::not_found;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    id: &CampaignId,
) -> Result<Response<Body>, ApiError> {
    match app.store.delete_campaign(tenant, id).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::NotFound(Missing::Campaign)) => Err(not_found(id)),
        Err(e) => Err(e.into()),
    }
}
