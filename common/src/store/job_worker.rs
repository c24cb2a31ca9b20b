//! The bulk generation worker's side of a job: it leases a job, writes its
//! coupons slot by slot, lists each finished batch's codes, and ends it.

use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::item::*;
use super::job_item::job_from;
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, is_condition_failure, unavailable};
use super::{DynamoStore, StoreError, StoreResult};
use crate::code::CouponCode;
use crate::coupon::Coupon;
use crate::job::{Job, JobStatus};
use crate::tenant::TenantId;

/// What writing one slot of a job found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotWrite {
    Written,
    /// This job wrote it on an earlier run.
    Ours,
    /// Another coupon has the code.
    Taken,
}

pub trait JobWorkerStore: Send + Sync {
    /// Jobs not finished yet, of every tenant.
    fn active_jobs(&self) -> impl Future<Output = StoreResult<Vec<(TenantId, String)>>> + Send;
    /// Leases the job to `owner` until `lease_until`, unless it is finished
    /// or another owner's lease still runs (then `None`).
    fn claim_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<Job>>> + Send;
    /// Writes the coupon of one slot unless its code exists; never overwrites.
    fn put_job_coupon(
        &self,
        tenant: &TenantId,
        job: &Job,
        coupon: &Coupon,
        slot: u64,
    ) -> impl Future<Output = StoreResult<SlotWrite>> + Send;
    /// Records that `slot` draws at `attempt` now; `false` if the lease was lost.
    fn move_slot(
        &self,
        tenant: &TenantId,
        job_id: &str,
        owner: &str,
        slot: u64,
        attempt: u32,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Lists a finished batch's codes and counts it done (the last one
    /// finishes the job); `false` if the lease was lost.
    #[allow(clippy::too_many_arguments)]
    fn finish_batch(
        &self,
        tenant: &TenantId,
        job: &Job,
        batch: u64,
        codes: &[CouponCode],
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Gives up `owner`'s lease, so the next run may resume the job at once.
    fn release_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
        owner: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    fn fail_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
        owner: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

impl DynamoStore {
    /// Ends a job (`expression`, if `condition` holds) and takes it off its
    /// tenant's count of unfinished jobs in the same write; `false` if the
    /// condition failed. A count that has nothing to take (a job from
    /// before the count existed) does not keep the job from ending.
    async fn finish_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
        expression: &str,
        condition: &str,
        values: Item,
    ) -> StoreResult<bool> {
        let names = [("#status", "status"), ("#error", "error")];
        let names: Vec<(&str, &str)> = names
            .into_iter()
            .filter(|(placeholder, _)| expression.contains(placeholder))
            .collect();
        let mut count_down = true;
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let mut tx = self.transaction();
            let job = tx.update(
                (job_pk(tenant, job_id), JOB_SK.to_owned()),
                expression,
                condition,
                &names,
                values.clone(),
            )?;
            let uncount = match count_down {
                true => Some(tx.update(
                    (unfinished_jobs_pk(tenant), UNFINISHED_JOBS_SK.to_owned()),
                    "ADD unfinished :minus_one",
                    "unfinished > :zero",
                    &[],
                    Item::from([(":minus_one".into(), n(-1)), (":zero".into(), n(0))]),
                )?),
                false => None,
            };
            let Some(cancelled) = self.transact(tx, None).await? else {
                return Ok(true);
            };
            if cancelled.refused(job) {
                return Ok(false);
            }
            if cancelled.refused(uncount) {
                count_down = false;
                continue;
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("finish job"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("finish job"))
    }

    /// An `UpdateItem` of a job item.
    fn update_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(job_pk(tenant, job_id)))
            .key(SK, s(JOB_SK))
    }
}

/// `Ok(false)` when a conditional job update found its condition false.
fn applied<T, E, R>(result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>) -> StoreResult<bool>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(unavailable(e)),
    }
}

impl JobWorkerStore for DynamoStore {
    async fn active_jobs(&self) -> StoreResult<Vec<(TenantId, String)>> {
        let items = self.query_gsi1(ACTIVE_JOBS_GSI1PK.to_owned(), None).await?;
        items
            .iter()
            .map(|item| {
                let tenant = item
                    .get("tenant_id")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|t| TenantId::parse(t).ok());
                let job = item.get("job_id").and_then(|v| v.as_s().ok()).cloned();
                tenant
                    .zip(job)
                    .ok_or_else(|| StoreError::Unavailable("active job without ids".into()))
            })
            .collect()
    }

    async fn claim_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let result = self
            .update_job(tenant, job_id)
            .update_expression(
                "SET #status = :running, lease_owner = :owner, lease_until = :until, updated_at = :now",
            )
            .condition_expression(
                "#status IN (:pending, :running) AND \
                 (attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :owner)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":running", s(JobStatus::Running.as_str()))
            .expression_attribute_values(":pending", s(JobStatus::Pending.as_str()))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", time(lease_until))
            .expression_attribute_values(":now", time(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(job_from(&output.attributes.unwrap_or_default())?)),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn put_job_coupon(
        &self,
        tenant: &TenantId,
        job: &Job,
        coupon: &Coupon,
        slot: u64,
    ) -> StoreResult<SlotWrite> {
        let marks = Item::from([
            ("shape".to_owned(), s(&job.shape_key)),
            ("job_id".to_owned(), s(&job.job_id)),
            ("job_slot".to_owned(), n(slot)),
        ]);
        if self.put_new_coupon(tenant, coupon, marks).await? {
            return Ok(SlotWrite::Written);
        }
        // Ours from an earlier run of this job, or another coupon's.
        let existing = self
            .get(coupon_pk(tenant, &coupon.code), COUPON_SK)
            .await?
            .unwrap_or_default();
        let ours = existing.get("job_id").and_then(|v| v.as_s().ok()) == Some(&job.job_id)
            && existing.get("job_slot").and_then(|v| v.as_n().ok()) == Some(&slot.to_string());
        Ok(if ours {
            SlotWrite::Ours
        } else {
            SlotWrite::Taken
        })
    }

    async fn move_slot(
        &self,
        tenant: &TenantId,
        job_id: &str,
        owner: &str,
        slot: u64,
        attempt: u32,
    ) -> StoreResult<bool> {
        let result = self
            .update_job(tenant, job_id)
            .update_expression("SET replaced.#slot = :attempt")
            .condition_expression("lease_owner = :owner")
            .expression_attribute_names("#slot", slot.to_string())
            .expression_attribute_values(":attempt", n(attempt))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        applied(result)
    }

    async fn finish_batch(
        &self,
        tenant: &TenantId,
        job: &Job,
        batch: u64,
        codes: &[CouponCode],
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // Rewriting a batch after a crash writes the same codes again.
        let listing = Item::from([
            (PK.into(), s(job_pk(tenant, &job.job_id))),
            (SK.into(), s(job_batch_sk(batch))),
            ("type".into(), s("job_batch")),
            (
                "codes".into(),
                AttributeValue::L(codes.iter().map(|c| s(c.as_str())).collect()),
            ),
        ]);
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(listing))
            .send()
            .await
            .map_err(unavailable)?;
        let condition = "batches_done = :batch AND lease_owner = :owner";
        let mut values = Item::from([
            (":batch".into(), n(batch)),
            (":next".into(), n(batch + 1)),
            (":owner".into(), s(owner)),
            (":now".into(), time(now)),
        ]);
        if batch + 1 == job.batches() {
            values.insert(":succeeded".into(), s(JobStatus::Succeeded.as_str()));
            let finish = "SET batches_done = :next, #status = :succeeded, updated_at = :now, \
                          completed_at = :now REMOVE lease_owner, lease_until, GSI1PK, GSI1SK";
            return self
                .finish_job(tenant, &job.job_id, finish, condition, values)
                .await;
        }
        values.insert(":until".into(), time(lease_until));
        let result = self
            .update_job(tenant, &job.job_id)
            .update_expression("SET batches_done = :next, lease_until = :until, updated_at = :now")
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        applied(result)
    }

    async fn release_job(&self, tenant: &TenantId, job_id: &str, owner: &str) -> StoreResult<bool> {
        let result = self
            .update_job(tenant, job_id)
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        applied(result)
    }

    async fn fail_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
        owner: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let fail = "SET #status = :failed, #error = :error, updated_at = :now, completed_at = :now \
                    REMOVE lease_owner, lease_until, GSI1PK, GSI1SK";
        let values = Item::from([
            (":failed".into(), s(JobStatus::Failed.as_str())),
            (":error".into(), s(error)),
            (":owner".into(), s(owner)),
            (":now".into(), time(now)),
        ]);
        self.finish_job(tenant, job_id, fail, "lease_owner = :owner", values)
            .await
    }
}
