//! `DELETE /campaigns/{campaign_id}/codes`: deletes every code of the
//! campaign, by a job (a campaign may have a million). Each code goes as
//! `DELETE /coupon/{code}` would take it; its redemption log stays. Codes
//! written while the job runs may outlast it: the campaign's
//! `coupon_count` says whether any are left.

use common::campaign::CampaignId;
use common::http::job_accepted;
use common::job::Job;
use common::store::{CampaignStore, JobStore};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::{Body, Response};

use crate::not_found;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    id: &CampaignId,
) -> Result<Response<Body>, ApiError> {
    let campaign = app
        .store
        .get_campaign(tenant, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let job = Job::delete_campaign_codes(id.clone(), campaign.coupon_count, app.clock.now());
    app.store
        .insert_job(tenant, &job, app.max_unfinished_jobs)
        .await?;
    Ok(job_accepted(&job))
}
