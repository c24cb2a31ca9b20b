//! Recording a job's progress: one conditional write of the job item, or,
//! when it settles counts beside it (the tenant's unfinished jobs, an
//! import's campaign), one transaction with them.

use super::item::*;
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, is_condition_failure, unavailable};
use super::{DynamoStore, StoreResult};
use crate::campaign::CampaignId;
use crate::tenant::TenantId;

impl DynamoStore {
    /// Records a job's progress (`expression`, if `condition` holds), in
    /// one transaction with what it settles, if anything: an ending job
    /// (`ends`) comes off its tenant's count of unfinished jobs, and an
    /// import's skipped codes (`count_out`) off its campaign's
    /// `coupon_count`. `false` if
    /// the condition failed. A count with nothing to take (a job from
    /// before the count existed) does not hold the job up; it is logged.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_job(
        &self,
        tenant: &TenantId,
        job_id: &str,
        expression: &str,
        condition: &str,
        values: Item,
        ends: bool,
        count_out: Option<(&CampaignId, u64)>,
    ) -> StoreResult<bool> {
        let names = [("#status", "status"), ("#error", "error")];
        let names: Vec<(&str, &str)> = names
            .into_iter()
            .filter(|(placeholder, _)| expression.contains(placeholder))
            .collect();
        let mut count_down = ends;
        let mut count_out = count_out.filter(|(_, skipped)| *skipped > 0);
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            if !count_down && count_out.is_none() {
                // Nothing to settle beside the job (most batches): one
                // conditional write, not a transaction (half the units).
                let mut update = self
                    .update_job(tenant, job_id)
                    .update_expression(expression)
                    .condition_expression(condition)
                    .set_expression_attribute_values(Some(values.clone()));
                for (placeholder, name) in &names {
                    update = update.expression_attribute_names(*placeholder, *name);
                }
                return applied(update.send().await);
            }
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
            let campaign = match count_out {
                Some((campaign, skipped)) => Some(tx.update(
                    (campaign_pk(tenant, campaign), CAMPAIGN_SK.to_owned()),
                    "ADD coupon_count :minus",
                    "coupon_count >= :skipped",
                    &[],
                    Item::from([
                        (":minus".into(), n(-(skipped as i64))),
                        (":skipped".into(), n(skipped)),
                    ]),
                )?),
                None => None,
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
            if cancelled.refused(campaign) {
                tracing::error!(
                    job = job_id,
                    "an import's campaign counts fewer codes than it skipped"
                );
                count_out = None;
                continue;
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("record job"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("record job"))
    }

    /// An `UpdateItem` of a job item.
    pub(super) fn update_job(
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
pub(super) fn applied<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> StoreResult<bool>
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
