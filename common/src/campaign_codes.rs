//! Codes written into a campaign are counted into its `coupon_count` before
//! they are written, so the campaign cannot be deleted under them: a create
//! of campaign codes (`POST /coupon` with `campaign_id`) and an import
//! (`POST /campaigns/{id}/import`) both go through `counted_into`.

use std::future::Future;

use lambda_http::{Body, Response};

use crate::campaign::{Campaign, CampaignId};
use crate::store::{CampaignStore, StoreError};
use crate::tenant::TenantId;
use crate::{ApiError, App};

/// Counts `quantity` codes into campaign `id`, then runs `create` with the
/// campaign. They are counted out again only when `create` was refused
/// before it could write any: after a failed write (whose undo may have
/// failed too) the count stays high, which only keeps the campaign from
/// being deleted under a code. A job that fails later counts out what it
/// did not write itself.
pub async fn counted_into<F, Fut>(
    app: &App,
    tenant: &TenantId,
    id: &CampaignId,
    quantity: u64,
    create: F,
) -> Result<Response<Body>, ApiError>
where
    F: FnOnce(Campaign) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let quantity = quantity as i64;
    let campaign = match app.store.count_campaign_codes(tenant, id, quantity).await {
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!("no campaign {id}")));
        }
        other => other?,
    };
    let created = create(campaign).await;
    if let Err(ApiError::AlreadyExists(_) | ApiError::Invalid(_) | ApiError::TooManyJobs { .. }) =
        &created
        && let Err(e) = app.store.count_campaign_codes(tenant, id, -quantity).await
    {
        tracing::error!(error = %e, campaign = %id, "could not count a refused create's codes out of its campaign");
    }
    created
}
