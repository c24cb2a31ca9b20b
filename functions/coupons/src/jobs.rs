//! `GET /coupon/jobs/{job_id}`: a job's progress;
//! `GET /coupon/jobs/{job_id}/codes`: the codes it wrote (or deleted), and
//! `GET /coupon/jobs/{job_id}/skipped`: the codes an import found existing,
//! 10,000 to a page.

use common::http::json;
use common::job::Job;
use common::store::{JobListing, JobStore};
use common::tenant::TenantId;
use common::views::{JobView, ListView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

async fn find(app: &App, tenant: &TenantId, job_id: &str) -> Result<Job, ApiError> {
    app.store
        .get_job(tenant, job_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job {job_id}")))
}

pub async fn show(app: &App, tenant: &TenantId, job_id: &str) -> Result<Response<Body>, ApiError> {
    let job = find(app, tenant, job_id).await?;
    Ok(json(StatusCode::OK, &JobView::of(&job)))
}

/// `cursor` is the last batch the previous page showed.
pub async fn listed(
    app: &App,
    tenant: &TenantId,
    job_id: &str,
    listing: JobListing,
    cursor: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let job = find(app, tenant, job_id).await?;
    // A cursor is a batch this job has listed.
    let after = cursor
        .map(|c| {
            c.parse::<u64>()
                .ok()
                .filter(|batch| *batch < job.batches_done)
                .ok_or_else(|| ApiError::Invalid(format!("cursor {c:?} is not one this API gave")))
        })
        .transpose()?;
    let page = app.store.job_codes(tenant, job_id, listing, after).await?;
    let (codes, next) = match page {
        // Later batches are listed once the worker records them.
        Some((batch, codes)) => (codes, job.lists_after(batch).then(|| batch.to_string())),
        // Nothing new yet: a job still running gives the same cursor back to poll with.
        None if !job.finished() => (Vec::new(), after.map(|b| b.to_string())),
        None => (Vec::new(), None),
    };
    let data: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    Ok(json(StatusCode::OK, &ListView::counted_page(data, next)))
}
