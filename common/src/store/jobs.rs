//! Bulk generation jobs in DynamoDB. A job item holds the request, the
//! progress (`batches_done`) and the worker's lease; each finished batch
//! leaves an item listing its codes, so the codes can be paged per job.

use std::future::Future;

use super::item::*;
use super::job_item::{job_from, job_item};
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, unavailable};
use super::{DynamoStore, StoreError, StoreResult};
use crate::code::CouponCode;
use crate::job::Job;
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
    /// The codes of the next few finished batches after `after_batch`, and
    /// the last batch listed (the next page's cursor).
    fn job_codes(
        &self,
        tenant: &TenantId,
        job_id: &str,
        after_batch: Option<u64>,
    ) -> impl Future<Output = StoreResult<Option<(u64, Vec<CouponCode>)>>> + Send;
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

    async fn job_codes(
        &self,
        tenant: &TenantId,
        job_id: &str,
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
            let listed = item
                .get("codes")
                .and_then(|v| v.as_l().ok())
                .ok_or_else(|| StoreError::Unavailable("job batch without codes".into()))?;
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
