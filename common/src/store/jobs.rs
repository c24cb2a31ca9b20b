//! Jobs in DynamoDB. A job item holds the request, the progress
//! (`batches_done`) and the worker's lease; an import's listed codes wait in
//! one input item per batch; each finished batch leaves an item listing its
//! codes (and an import's skipped ones), so they can be paged per job.

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::item::*;
use super::job_item::{job_from, job_item};
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, unavailable};
use super::{DynamoStore, StoreError, StoreResult};
use crate::code::CouponCode;
use crate::job::{JOB_BATCH, Job, ListedCode};
use crate::tenant::TenantId;

/// The API's side of a job: start one, read it, page its codes. The
/// worker's side is `JobWorkerStore`.
pub trait JobStore: Send + Sync {
    /// Writes a new job, unless the tenant has `max_unfinished` jobs not
    /// finished yet (`TooManyJobs`).
    fn insert_job(
        &self,
        tenant: &TenantId,
        job: &Job,
        max_unfinished: u32,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Job>>> + Send;
    /// Writes an import's listed codes, one item per batch, for the job
    /// `job_id` to read. Written before the job: until it exists they are
    /// nobody's, and TTL removes them after `JOB_INPUT_KEPT_SECS` either way.
    fn put_job_input(
        &self,
        tenant: &TenantId,
        job_id: &str,
        codes: &[ListedCode],
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The codes of the next few finished batches after `after_batch`, and
    /// the last batch listed (the next page's cursor).
    fn job_codes(
        &self,
        tenant: &TenantId,
        job_id: &str,
        listed: JobListing,
        after_batch: Option<u64>,
    ) -> impl Future<Output = StoreResult<Option<(u64, Vec<CouponCode>)>>> + Send;
}

/// What a batch listing lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobListing {
    /// Codes the batch wrote (or deleted).
    Codes,
    /// Codes an import found existing and left alone.
    Skipped,
}

impl JobListing {
    pub(super) fn attribute(self) -> &'static str {
        match self {
            JobListing::Codes => "codes",
            JobListing::Skipped => "skipped",
        }
    }
}

impl JobStore for DynamoStore {
    async fn insert_job(
        &self,
        tenant: &TenantId,
        job: &Job,
        max_unfinished: u32,
    ) -> StoreResult<()> {
        let mut tx = self.transaction();
        tx.put(
            job_item(tenant, job)?,
            Some("attribute_not_exists(PK)"),
            Item::new(),
        )?;
        // The tenant's count of unfinished jobs, in the same write as the job.
        let count = tx.update(
            (unfinished_jobs_pk(tenant), UNFINISHED_JOBS_SK.to_owned()),
            "ADD unfinished :one",
            "attribute_not_exists(unfinished) OR unfinished < :max",
            &[],
            Item::from([(":one".into(), n(1)), (":max".into(), n(max_unfinished))]),
        )?;
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let Some(cancelled) = self.transact(tx.clone(), Some(&job.job_id)).await? else {
                return Ok(());
            };
            if cancelled.refused(count) {
                return Err(StoreError::TooManyJobs(max_unfinished));
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("insert job"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("insert job"))
    }

    async fn get_job(&self, tenant: &TenantId, job_id: &str) -> StoreResult<Option<Job>> {
        self.get(job_pk(tenant, job_id), JOB_SK)
            .await?
            .as_ref()
            .map(job_from)
            .transpose()
    }

    async fn put_job_input(
        &self,
        tenant: &TenantId,
        job_id: &str,
        codes: &[ListedCode],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let kept_until = now.timestamp() + JOB_INPUT_KEPT_SECS;
        let items: Vec<Item> = codes
            .chunks(JOB_BATCH as usize)
            .enumerate()
            .map(|(batch, chunk)| {
                Item::from([
                    (PK.into(), s(job_pk(tenant, job_id))),
                    (SK.into(), s(job_input_sk(batch as u64))),
                    ("type".into(), s("job_input")),
                    (
                        "codes".into(),
                        AttributeValue::L(chunk.iter().map(|c| s(c.code.as_str())).collect()),
                    ),
                    (
                        "uses".into(),
                        AttributeValue::L(chunk.iter().map(|c| n(c.uses)).collect()),
                    ),
                    (EXPIRES_TTL.into(), n(kept_until)),
                ])
            })
            .collect();
        for group in items.chunks(INPUTS_IN_FLIGHT) {
            let puts = group.iter().map(|item| {
                self.client()
                    .put_item()
                    .table_name(self.table())
                    .set_item(Some(item.clone()))
                    .send()
            });
            for result in join_all(puts).await {
                result.map_err(unavailable)?;
            }
        }
        Ok(())
    }

    async fn job_codes(
        &self,
        tenant: &TenantId,
        job_id: &str,
        listed: JobListing,
        after_batch: Option<u64>,
    ) -> StoreResult<Option<(u64, Vec<CouponCode>)>> {
        let from = after_batch.map_or(0, |b| b + 1);
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(job_pk(tenant, job_id)))
            .expression_attribute_values(":from", s(job_batch_sk(from)))
            .expression_attribute_values(":to", s(format!("{JOB_BATCH_SK_PREFIX}~")))
            .limit(JOB_BATCHES_PER_PAGE)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let mut last = None;
        let mut codes = Vec::new();
        for item in output.items.unwrap_or_default() {
            let batch = item
                .get(SK)
                .and_then(|v| v.as_s().ok())
                .and_then(|sk| sk.strip_prefix(JOB_BATCH_SK_PREFIX))
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| StoreError::Unavailable("job batch without a number".into()))?;
            // A listing from before imports has no `skipped`: none were.
            let listed = match item.get(listed.attribute()) {
                Some(list) => list
                    .as_l()
                    .map_err(|_| StoreError::Unavailable("job batch without codes".into()))?
                    .as_slice(),
                None if listed == JobListing::Skipped => &[],
                None => return Err(StoreError::Unavailable("job batch without codes".into())),
            };
            for code in listed {
                let code = code.as_s().ok().and_then(|c| CouponCode::parse(c).ok());
                codes.push(
                    code.ok_or_else(|| {
                        StoreError::Unavailable("job batch with a bad code".into())
                    })?,
                );
            }
            last = Some(batch);
        }
        Ok(last.map(|batch| (batch, codes)))
    }
}

/// Batch listings per page of a job's codes: 10,000 codes, about 170 kB.
const JOB_BATCHES_PER_PAGE: i32 = 10;
/// Input items written at once.
const INPUTS_IN_FLIGHT: usize = 10;
