//! The job worker's side of a job: it leases a job, writes (or deletes) its
//! coupons batch by batch, lists each finished batch's codes, and ends it.

use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::item::*;
use super::job_item::job_from;
use super::job_record::applied;
use super::jobs::JobListing;
use super::schema::*;
use super::transact::{is_condition_failure, unavailable};
use super::{DynamoStore, StoreError, StoreResult};
use crate::code::CouponCode;
use crate::coupon::Coupon;
use crate::job::{Job, JobStatus, JobWork, ListedCode};
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

/// What one finished batch did.
#[derive(Debug, Default)]
pub struct BatchRecord<'a> {
    pub batch: u64,
    /// Codes the batch wrote, or deleted.
    pub codes: &'a [CouponCode],
    /// Codes an import found existing: counted back out of its campaign.
    pub skipped: &'a [CouponCode],
    /// Where a delete's next page starts.
    pub resume_after: Option<&'a CouponCode>,
    /// The job's last batch, which finishes it.
    pub last: bool,
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
    /// Writes the coupon of one slot unless its code exists; never
    /// overwrites. A generated code counts against keyspace `shape`.
    fn put_job_coupon(
        &self,
        tenant: &TenantId,
        job_id: &str,
        coupon: &Coupon,
        slot: u64,
        shape: Option<&str>,
    ) -> impl Future<Output = StoreResult<SlotWrite>> + Send;
    /// The codes an import lists for `batch`; `None` if its input is gone.
    fn job_input(
        &self,
        tenant: &TenantId,
        job_id: &str,
        batch: u64,
    ) -> impl Future<Output = StoreResult<Option<Vec<ListedCode>>>> + Send;
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
    fn finish_batch(
        &self,
        tenant: &TenantId,
        job: &Job,
        record: &BatchRecord<'_>,
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
    /// Ends the job as failed; the codes it counted into a campaign and
    /// will not write are counted out in the same write.
    fn fail_job(
        &self,
        tenant: &TenantId,
        job: &Job,
        owner: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
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
        job_id: &str,
        coupon: &Coupon,
        slot: u64,
        shape: Option<&str>,
    ) -> StoreResult<SlotWrite> {
        let mut marks = Item::from([
            ("job_id".to_owned(), s(job_id)),
            ("job_slot".to_owned(), n(slot)),
        ]);
        if let Some(shape) = shape {
            marks.insert("shape".to_owned(), s(shape));
        }
        if self.put_new_coupon(tenant, coupon, marks).await? {
            return Ok(SlotWrite::Written);
        }
        // Ours from an earlier run of this job, or another coupon's.
        let existing = self
            .get(coupon_pk(tenant, &coupon.code), COUPON_SK)
            .await?
            .unwrap_or_default();
        let ours = existing
            .get("job_id")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            == Some(job_id)
            && existing.get("job_slot").and_then(|v| v.as_n().ok()) == Some(&slot.to_string());
        Ok(if ours {
            SlotWrite::Ours
        } else {
            SlotWrite::Taken
        })
    }

    async fn job_input(
        &self,
        tenant: &TenantId,
        job_id: &str,
        batch: u64,
    ) -> StoreResult<Option<Vec<ListedCode>>> {
        let Some(item) = self
            .get(job_pk(tenant, job_id), &job_input_sk(batch))
            .await?
        else {
            return Ok(None);
        };
        let list = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_l().ok())
                .ok_or_else(|| corrupt(&item, name))
        };
        let (codes, uses) = (list("codes")?, list("uses")?);
        if codes.len() != uses.len() {
            return Err(corrupt(&item, "uses"));
        }
        codes
            .iter()
            .zip(uses)
            .map(|(code, uses)| {
                let code = code.as_s().ok().and_then(|c| CouponCode::parse(c).ok());
                let uses = uses.as_n().ok().and_then(|u| u.parse().ok());
                match (code, uses) {
                    (Some(code), Some(uses)) => Ok(ListedCode { code, uses }),
                    _ => Err(corrupt(&item, "codes")),
                }
            })
            .collect::<StoreResult<_>>()
            .map(Some)
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
        record: &BatchRecord<'_>,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let listed =
            |codes: &[CouponCode]| AttributeValue::L(codes.iter().map(|c| s(c.as_str())).collect());
        // Rewriting a batch after a crash writes the same codes again.
        let listing = Item::from([
            (PK.into(), s(job_pk(tenant, &job.job_id))),
            (SK.into(), s(job_batch_sk(record.batch))),
            ("type".into(), s("job_batch")),
            (JobListing::Codes.attribute().into(), listed(record.codes)),
            (
                JobListing::Skipped.attribute().into(),
                listed(record.skipped),
            ),
        ]);
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(listing))
            .send()
            .await
            .map_err(unavailable)?;
        let mut set = vec!["batches_done = :next", "updated_at = :now"];
        let mut values = Item::from([
            (":batch".into(), n(record.batch)),
            (":next".into(), n(record.batch + 1)),
            (":owner".into(), s(owner)),
            (":now".into(), time(now)),
            (":written".into(), n(record.codes.len())),
            (":skipped".into(), n(record.skipped.len())),
        ]);
        if let Some(code) = record.resume_after {
            set.push("resume_after = :resume_after");
            values.insert(":resume_after".into(), s(code.as_str()));
        }
        let remove = if record.last {
            set.extend(["#status = :succeeded", "completed_at = :now"]);
            values.insert(":succeeded".into(), s(JobStatus::Succeeded.as_str()));
            " REMOVE lease_owner, lease_until, GSI1PK, GSI1SK"
        } else {
            set.push("lease_until = :until");
            values.insert(":until".into(), time(lease_until));
            ""
        };
        let expression = format!(
            "SET {} ADD written :written, skipped :skipped{remove}",
            set.join(", ")
        );
        let count_out = match &job.work {
            JobWork::Import { template } => template
                .campaign_id
                .as_ref()
                .map(|campaign| (campaign, record.skipped.len() as u64)),
            _ => None,
        };
        self.record_job(
            tenant,
            &job.job_id,
            &expression,
            "batches_done = :batch AND lease_owner = :owner",
            values,
            record.last,
            count_out,
        )
        .await
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
        job: &Job,
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
        let count_out = (job.work.campaign_id()).map(|campaign| (campaign, job.unwritten()));
        self.record_job(
            tenant,
            &job.job_id,
            fail,
            "lease_owner = :owner",
            values,
            true,
            count_out,
        )
        .await
    }
}
