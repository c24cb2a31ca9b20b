//! `GET /coupon/jobs/{job_id}`: a bulk generation job's progress, and
//! `GET /coupon/jobs/{job_id}/codes`: the codes it wrote, 10,000 to a page.

use common::http::json;
use common::job::{Job, JobStatus};
use common::store::JobStore;
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
pub async fn codes(
    app: &App,
    tenant: &TenantId,
    job_id: &str,
    cursor: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let job = find(app, tenant, job_id).await?;
    // A cursor is a batch number this job has.
    let after = cursor
        .map(|c| {
            c.parse::<u64>()
                .ok()
                .filter(|batch| *batch < job.batches())
                .ok_or_else(|| ApiError::Invalid(format!("cursor {c:?} is not one this API gave")))
        })
        .transpose()?;
    let page = app.store.job_codes(tenant, job_id, after).await?;
    let (codes, next) = match page {
        Some((batch, codes)) => {
            // Later batches are listed once the worker records them.
            let more = batch + 1 < job.batches();
            (codes, more.then(|| batch.to_string()))
        }
        // Nothing new yet: a job still running gives the same cursor back to poll with.
        None if matches!(job.status, JobStatus::Pending | JobStatus::Running) => {
            (Vec::new(), after.map(|b| b.to_string()))
        }
        None => (Vec::new(), None),
    };
    let data: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
    Ok(json(StatusCode::OK, &ListView::counted_page(data, next)))
}
