//! Persistence, one trait per capability. `DynamoStore` implements them all
//! against the single table described in the README.

mod buckets;
mod cleanup;
mod dynamo;
mod item;
mod jobs;
mod redemptions;
pub mod schema;
mod shards;

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

pub use cleanup::{CLEANUP_TYPE, CleanupStore, DeletedCoupon};
pub use dynamo::DynamoStore;

use crate::code::CouponCode;
use crate::coupon::{Coupon, CouponPatch, Redeem, Redemption, Reservation};
use crate::error::{ApiError, Refusal};
use crate::export::{ExportCursor, ExportRecord};
use crate::idempotency::Idempotency;
use crate::job::Job;
use crate::keyspace::Shape;
use crate::tenant::{Tenant, TenantId, TokenRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB failed or throttled; the operation did not happen.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A write was sent but its answer never came (a timeout, a dropped
    /// connection, a DynamoDB internal error): it may have happened.
    #[error("the outcome of a write is unknown: {0}")]
    OutcomeUnknown(String),
    /// A stored item this code cannot read.
    #[error("item {key} has a missing or malformed {what}")]
    Corrupt { key: String, what: String },
    /// An item that should not exist does (a tenant id).
    #[error("it already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("{}", .0.code())]
    Refused(Refusal),
    /// An idempotency key came back with different parameters.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// The tenant has this many bulk jobs not finished yet.
    #[error("{0} unfinished jobs")]
    TooManyJobs(u32),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable(_) => {
                // Details of the dependency failure go to the log, not the client.
                tracing::warn!(error = %e, "store unavailable");
                ApiError::Unavailable(
                    "a dependency failed; nothing was changed, retry later".into(),
                )
            }
            StoreError::OutcomeUnknown(_) => {
                tracing::warn!(error = %e, "write outcome unknown");
                ApiError::Unavailable(
                    "a dependency did not answer in time, so whether the change was made is \
                     unknown; retrying a consume with the same Idempotency-Key is safe, \
                     otherwise read the resource before retrying"
                        .into(),
                )
            }
            StoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "stored item unreadable");
                ApiError::Internal
            }
            StoreError::AlreadyExists => {
                ApiError::AlreadyExists("that coupon code already exists".into())
            }
            StoreError::NotFound => ApiError::NotFound("no such coupon".into()),
            StoreError::Refused(refusal) => ApiError::Refused(refusal),
            StoreError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            StoreError::TooManyJobs(max) => ApiError::TooManyJobs { max },
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A page of results and where the next one starts.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<CouponCode>,
}

pub trait CouponStore: Send + Sync {
    /// Writes each coupon whose code is free; a code that exists is never
    /// overwritten. Answers the indices of the coupons whose code was taken
    /// (those were not written). If a write fails, removes what this call
    /// wrote before answering the failure. `shape` marks generated codes with
    /// the keyspace they count against.
    fn insert_new_coupons(
        &self,
        tenant: &TenantId,
        coupons: &[Coupon],
        shape: Option<&str>,
    ) -> impl Future<Output = StoreResult<Vec<usize>>> + Send;
    fn get_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
    ) -> impl Future<Output = StoreResult<Option<Coupon>>> + Send;
    fn list_coupons(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&CouponCode>,
    ) -> impl Future<Output = StoreResult<Page<Coupon>>> + Send;
    fn update_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        patch: &CouponPatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Coupon>> + Send;
    /// Deletes the coupon and its shards in one write, with a task for the
    /// worker to remove its customer counts and release its held
    /// reservations (see `cleanup`); answers the keyspace shape it counted
    /// against, if any.
    fn delete_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<String>>> + Send;
    /// Counts `quantity` more live codes of `shape`, unless that would pass
    /// its `max_live`; then answers `Err(live)` with the count as it stands.
    fn reserve_live_codes(
        &self,
        tenant: &TenantId,
        shape: &Shape,
        quantity: u64,
    ) -> impl Future<Output = StoreResult<Result<(), u64>>> + Send;
    /// Gives back live-code counts of a shape (codes deleted or never made).
    fn release_live_codes(
        &self,
        tenant: &TenantId,
        shape_key: &str,
        quantity: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// One consume: the coupon as last read and what the client asked for.
#[derive(Debug, Clone, Copy)]
pub struct ConsumeRequest<'a> {
    pub seen: &'a Coupon,
    pub redeem: &'a Redeem,
    /// A held reservation to convert instead of taking a fresh use.
    pub reservation: Option<&'a Reservation>,
    pub idempotency: Option<&'a Idempotency>,
    pub now: DateTime<Utc>,
}

#[derive(Debug)]
pub enum Consumed {
    /// This request consumed a use; `body` is its response.
    Fresh { after: Box<Coupon>, body: String },
    /// An earlier request with the same idempotency key did; `body` is the
    /// response it got, byte for byte.
    Replayed { body: String },
}

pub trait RedemptionStore: Send + Sync {
    /// Takes one use of `seen` (or converts a reservation) and writes the
    /// redemption row, the customer's count and the idempotency record in
    /// one transaction. It is conditional on the coupon still being usable
    /// and still carrying the terms `seen` shows.
    fn consume(
        &self,
        tenant: &TenantId,
        request: ConsumeRequest<'_>,
    ) -> impl Future<Output = StoreResult<Consumed>> + Send;

    /// The answer a consume with this idempotency key got, while the key is
    /// kept: `Some(body)` for the same parameters, `IdempotencyKeyReused`
    /// for others, `None` when no consume with it succeeded.
    fn idempotent_answer(
        &self,
        tenant: &TenantId,
        idempotency: &Idempotency,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<String>>> + Send;

    /// Holds one use of `seen` until `expires_at`. Answers the reservation
    /// and the coupon as it left it.
    fn reserve(
        &self,
        tenant: &TenantId,
        seen: &Coupon,
        redeem: &Redeem,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<(Reservation, Coupon)>> + Send;

    fn get_reservation(
        &self,
        tenant: &TenantId,
        reservation_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Reservation>>> + Send;

    /// Gives a held reservation's use back, once: `Ok(false)` when it was
    /// not held any more (or, with `only_if_expired`, has not expired).
    fn release_reservation(
        &self,
        tenant: &TenantId,
        held: &Reservation,
        only_if_expired: bool,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Releases a batch of the coupon's reservations that expired before
    /// `now`, each once; answers how many this call released. Consume and
    /// reserve do this themselves when a coupon with held uses runs out.
    fn reclaim_expired(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Uses and held reservations a customer has of a coupon.
    fn customer_uses(
        &self,
        tenant: &TenantId,
        coupon: &Coupon,
        customer_id: &str,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// A consume row of the log, by its id.
    fn get_redemption(
        &self,
        tenant: &TenantId,
        redemption_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Redemption>>> + Send;

    /// Marks `original` rolled back, writes its reversal row and gives the
    /// use back, once. Answers the reversal and whether a use went back
    /// (not when the coupon was deleted since).
    fn roll_back(
        &self,
        tenant: &TenantId,
        original: &Redemption,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<(Redemption, bool)>> + Send;

    /// One page of a tenant's redemptions on `day` (UTC) between `from` and
    /// `to` (both included), oldest first, and the cursor of the next page.
    fn redemption_page(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<String>,
    ) -> impl Future<Output = StoreResult<(Vec<Redemption>, Option<String>)>> + Send;
}

/// What writing one slot of a job found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotWrite {
    Written,
    /// This job wrote it on an earlier run.
    Ours,
    /// Another coupon has the code.
    Taken,
}

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
    /// The codes of the next few finished batches after `after_batch`, and
    /// the last batch listed (the next page's cursor).
    fn job_codes(
        &self,
        tenant: &TenantId,
        job_id: &str,
        after_batch: Option<u64>,
    ) -> impl Future<Output = StoreResult<Option<(u64, Vec<CouponCode>)>>> + Send;
}

pub trait ExportStore: Send + Sync {
    /// Records a written export; one for the same key replaces it.
    fn put_export(
        &self,
        tenant: &TenantId,
        record: &ExportRecord,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The tenant's exports, newest first; `after` is a previous page's cursor.
    fn list_exports(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&ExportCursor>,
    ) -> impl Future<Output = StoreResult<(Vec<ExportRecord>, Option<ExportCursor>)>> + Send;
}

pub trait TenantStore: Send + Sync {
    fn insert_tenant(&self, tenant: &Tenant) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_tenant(&self, id: &TenantId)
    -> impl Future<Output = StoreResult<Option<Tenant>>> + Send;
    /// Sets a tenant's rate and burst; `NotFound` when there is no such tenant.
    fn update_tenant_limits(
        &self,
        id: &TenantId,
        rate_per_second: u32,
        burst: u32,
    ) -> impl Future<Output = StoreResult<Tenant>> + Send;
    fn list_tenants(&self) -> impl Future<Output = StoreResult<Vec<Tenant>>> + Send;
    fn insert_token(
        &self,
        record: &TokenRecord,
        hash: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn find_token(
        &self,
        hash: &str,
    ) -> impl Future<Output = StoreResult<Option<TokenRecord>>> + Send;
    fn list_tokens(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = StoreResult<Vec<TokenRecord>>> + Send;
    fn revoke_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
