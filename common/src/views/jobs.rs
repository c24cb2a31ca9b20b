//! A job's progress (`GET /coupon/jobs/{job_id}`, and the 202 that
//! accepts one).

use serde::Serialize;

use crate::campaign::CampaignId;
use crate::dates;
use crate::job::{Job, JobWork};

/// A job's progress. What it counts depends on its kind: a generation
/// and an import have `created` codes (an import also `skipped` ones that
/// existed), a delete `deleted` ones.
#[derive(Serialize)]
pub struct JobView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<&'a str>,
    completed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<u64>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<u64>,
    error: Option<&'a str>,
    job_id: &'a str,
    kind: &'static str,
    links: JobLinks,
    object: &'static str,
    quantity: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u64>,
    status: &'static str,
    updated_at: String,
}

#[derive(Serialize)]
struct JobLinks {
    codes: String,
    #[serde(rename = "self")]
    this: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
}

impl<'a> JobView<'a> {
    pub fn of(job: &'a Job) -> JobView<'a> {
        let (created, deleted, skipped) = match job.work {
            JobWork::Generate(_) => (Some(job.created()), None, None),
            JobWork::Import { .. } => (Some(job.created()), None, Some(job.skipped)),
            JobWork::DeleteCampaignCodes { .. } => (None, Some(job.created()), None),
        };
        JobView {
            campaign_id: job.work.campaign_id().map(CampaignId::as_str),
            completed_at: job.completed_at.map(dates::format),
            created,
            created_at: dates::format(job.created_at),
            deleted,
            error: job.error.as_deref(),
            job_id: &job.job_id,
            kind: job.work.kind(),
            links: JobLinks {
                codes: format!("/coupon/jobs/{}/codes", job.job_id),
                this: format!("/coupon/jobs/{}", job.job_id),
                skipped: skipped.map(|_| format!("/coupon/jobs/{}/skipped", job.job_id)),
            },
            object: "job",
            quantity: job.quantity,
            skipped,
            status: job.status.as_str(),
            updated_at: dates::format(job.updated_at),
        }
    }
}
