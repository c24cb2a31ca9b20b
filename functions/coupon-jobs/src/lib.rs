//! The job worker. `POST /coupon` accepts a create of more than 1,000 codes
//! as a job, `POST /campaigns/{id}/import` a list of existing codes and
//! `DELETE /campaigns/{id}/codes` the removal of a campaign's codes; this
//! function works each job in batches of 1,000 and records each batch, so
//! a crash loses at most the batch in flight, which the next run works
//! again (see `common::job`).
//!
//! It runs on the table's stream when a job is inserted, and on a schedule
//! that resumes jobs whose worker stopped (a crash, a timeout, a throttled
//! batch). A lease on the job item keeps two runs from working one job.
//!
//! It also removes what a deleted coupon leaves behind (its customers'
//! counts, its held reservations), from the task the delete wrote.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::code::CouponCode;
use common::job::{Job, JobWork};
use common::store::{
    BatchRecord, CLEANUP_TYPE, CleanupStore, DeletedCoupon, DynamoStore, JobWorkerStore,
    LiveCodeStore, StoreError,
};
use common::tenant::TenantId;
use lambda_runtime::{Error, LambdaEvent};

mod batches;
use batches::{Batch, Run};
use serde_json::Value;

/// How long a run holds a job between progress records: a run that stops
/// without a word (a crash) blocks the job this long.
pub const LEASE: Duration = Duration::from_secs(120);
/// A run starts no batch with less than this left before its deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

pub async fn handle(store: &DynamoStore, event: LambdaEvent<Value>) -> Result<Value, Error> {
    // Lambda gives the deadline as epoch milliseconds; emulators give 0 or a
    // duration (cargo lambda: 600000), which would be long past. Those get
    // Lambda's longest run.
    let deadline = DateTime::from_timestamp_millis(event.context.deadline as i64)
        .filter(|deadline| *deadline > Utc::now())
        .unwrap_or_else(|| Utc::now() + chrono::Duration::minutes(15));
    tracing::info!(deadline = %deadline, "job worker invoked");
    let Work { jobs, cleanups } = match streamed_work(&event.payload) {
        Some(work) => work,
        None => Work {
            jobs: store.active_jobs().await?,
            cleanups: store.pending_cleanups().await?,
        },
    };
    let mut done = Vec::new();
    for deleted in cleanups {
        store.clean_up(&deleted, common::dates::now()).await?;
        done.push(serde_json::json!({
            "tenant": deleted.tenant.as_str(), "code": deleted.code.as_str(), "outcome": "cleaned up"
        }));
    }
    done.extend(run_in_turn(store, jobs, TURN, deadline).await?);
    Ok(Value::Array(done))
}

/// How long one job runs before the next tenant's gets its turn.
pub const TURN: Duration = Duration::from_secs(20);

/// Runs the jobs a turn at a time, tenants taking turns (one job of each
/// tenant in order of their oldest job, then their second, ...), so one
/// tenant's queue does not hold another's back for more than a few turns.
/// Answers each job's outcome as it ends this run.
pub async fn run_in_turn(
    store: &DynamoStore,
    jobs: Vec<(TenantId, String)>,
    turn: Duration,
    deadline: DateTime<Utc>,
) -> Result<Vec<Value>, StoreError> {
    let turn = chrono::Duration::from_std(turn).unwrap_or_default();
    let mut queue = tenants_in_turn(jobs);
    let mut done = Vec::new();
    while !queue.is_empty() {
        let mut again = Vec::new();
        for (tenant, job_id) in queue {
            let turn_ends = (common::dates::now() + turn).min(deadline);
            let outcome = run_job(store, &tenant, &job_id, LEASE, deadline, turn_ends).await?;
            if outcome == TURN_OVER {
                again.push((tenant, job_id));
            } else {
                done.push(serde_json::json!({
                    "tenant": tenant.as_str(), "job_id": job_id, "outcome": outcome
                }));
            }
        }
        queue = again;
    }
    Ok(done)
}

/// Jobs (oldest first) reordered so that tenants alternate.
fn tenants_in_turn(jobs: Vec<(TenantId, String)>) -> Vec<(TenantId, String)> {
    let mut queues: Vec<(TenantId, std::collections::VecDeque<String>)> = Vec::new();
    for (tenant, job_id) in jobs {
        match queues.iter_mut().find(|(t, _)| *t == tenant) {
            Some((_, queue)) => queue.push_back(job_id),
            None => queues.push((tenant, [job_id].into())),
        }
    }
    let mut ordered = Vec::new();
    while queues.iter().any(|(_, queue)| !queue.is_empty()) {
        for (tenant, queue) in &mut queues {
            if let Some(job_id) = queue.pop_front() {
                ordered.push((tenant.clone(), job_id));
            }
        }
    }
    ordered
}

/// What `run_job` answers when its turn ended before the job did.
const TURN_OVER: &str = "turn over";

/// What one run works on: bulk jobs, and deleted coupons' leftovers.
#[derive(Debug, Default, PartialEq)]
struct Work {
    jobs: Vec<(TenantId, String)>,
    cleanups: Vec<DeletedCoupon>,
}

/// The jobs and clean-up tasks a stream event announces; `None` for any
/// other event (the schedule), which sweeps every one not finished yet.
fn streamed_work(event: &Value) -> Option<Work> {
    let records = event.get("Records")?.as_array()?;
    let mut work = Work::default();
    for record in records {
        let image = &record["dynamodb"]["NewImage"];
        let text = |name: &str| image[name]["S"].as_str();
        let Some(tenant) = text("tenant_id").and_then(|t| TenantId::parse(t).ok()) else {
            continue;
        };
        match text("type") {
            Some("job") => {
                if let Some(job_id) = text("job_id") {
                    work.jobs.push((tenant, job_id.to_owned()));
                }
            }
            Some(CLEANUP_TYPE) => {
                let code = text("code").and_then(|c| CouponCode::parse(c).ok());
                let created_at = image["coupon_created_at"]["N"]
                    .as_str()
                    .and_then(|n| n.parse().ok())
                    .map(common::dates::from_millis);
                if let (Some(code), Some(created_at)) = (code, created_at) {
                    work.cleanups.push(DeletedCoupon {
                        tenant,
                        code,
                        created_at,
                    });
                }
            }
            _ => {}
        }
    }
    Some(work)
}

/// Runs a job until it is finished, its lease is lost, its turn is over
/// (after at least one batch), or the deadline nears. Answers what
/// happened: "succeeded", "failed", "leased elsewhere", "turn over" or
/// "paused". A dependency failure is an error, and the job stays as it was
/// for the next run.
pub async fn run_job(
    store: &DynamoStore,
    tenant: &TenantId,
    job_id: &str,
    lease: Duration,
    deadline: DateTime<Utc>,
    turn_ends: DateTime<Utc>,
) -> Result<&'static str, StoreError> {
    let owner = uuid::Uuid::new_v4().to_string();
    let lease = chrono::Duration::from_std(lease).unwrap_or_default();
    let margin = chrono::Duration::from_std(DEADLINE_MARGIN).unwrap_or_default();
    let now = common::dates::now();
    let Some(mut job) = store
        .claim_job(tenant, job_id, &owner, now + lease, now)
        .await?
    else {
        return Ok("leased elsewhere");
    };
    let drawing = match &job.work {
        JobWork::Generate(generation) => match generation.format.format() {
            Ok(format) => Some((format, generation.slot_draws())),
            Err(e) => return fail(store, tenant, &job, &owner, &e.to_string()).await,
        },
        _ => None,
    };
    let run = Run {
        store,
        tenant,
        owner: &owner,
    };
    tracing::info!(tenant = %tenant, job = job_id, kind = job.work.kind(), from_batch = job.batches_done, "job running");
    let mut turn_started = true;
    loop {
        if common::dates::now() + margin > deadline {
            store.release_job(tenant, job_id, &owner).await?;
            return Ok("paused");
        }
        if !std::mem::take(&mut turn_started) && common::dates::now() >= turn_ends {
            store.release_job(tenant, job_id, &owner).await?;
            return Ok(TURN_OVER);
        }
        let batch = job.batches_done;
        let outcome = match (&job.work, &drawing) {
            (JobWork::Generate(generation), Some((format, draws))) => {
                run.generate(&job, generation, format, draws, batch).await?
            }
            (JobWork::Import { template }, _) => run.import(&job, template, batch).await?,
            (JobWork::DeleteCampaignCodes { campaign_id }, _) => {
                run.delete(&job, campaign_id).await?
            }
            (JobWork::Generate(_), None) => {
                unreachable!("a generation's drawing is prepared above")
            }
        };
        let done = match outcome {
            Batch::Done(done) => done,
            Batch::LeaseLost => return Ok("leased elsewhere"),
            Batch::Failed(error) => return fail(store, tenant, &job, &owner, error).await,
        };
        let record = BatchRecord {
            batch,
            codes: &done.codes,
            skipped: &done.skipped,
            resume_after: done.resume_after.as_ref(),
            last: done.last,
        };
        let now = common::dates::now();
        if !store
            .finish_batch(tenant, &job, &record, &owner, now + lease, now)
            .await?
        {
            return Ok("leased elsewhere");
        }
        job.batches_done += 1;
        job.written += done.codes.len() as u64;
        job.skipped += done.skipped.len() as u64;
        if done.last {
            tracing::info!(tenant = %tenant, job = job_id, created = job.created(), skipped = job.skipped, "job succeeded");
            return Ok("succeeded");
        }
        job.resume_after = done.resume_after;
    }
}

/// Marks the job failed; the codes it counted (into a keyspace, a
/// campaign) and will not write are given back.
async fn fail(
    store: &DynamoStore,
    tenant: &TenantId,
    job: &Job,
    owner: &str,
    error: &str,
) -> Result<&'static str, StoreError> {
    tracing::error!(tenant = %tenant, job = %job.job_id, error, "job failed");
    if store
        .fail_job(tenant, job, owner, error, common::dates::now())
        .await?
        && let JobWork::Generate(generation) = &job.work
    {
        store
            .release_live_codes(tenant, &generation.shape_key, job.unwritten())
            .await?;
    }
    Ok("failed")
}
