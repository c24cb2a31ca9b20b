//! Persistence, one trait per capability. `DynamoStore` implements them all
//! against the single table described in the README.

mod buckets;
mod cleanup;
mod consume;
mod coupons;
mod customers;
mod dynamo;
mod exports;
mod item;
mod jobs;
mod live_codes;
mod redemption_log;
mod release;
mod reservations;
mod rollback;
pub mod schema;
mod shards;
mod take;
mod tenants;
mod transact;

pub use cleanup::{CLEANUP_TYPE, CleanupStore, DeletedCoupon};
pub use consume::{ConsumeRequest, ConsumeStore, Consumed};
pub use coupons::CouponStore;
pub use customers::CustomerCountStore;
pub use dynamo::DynamoStore;
pub use exports::ExportStore;
pub use jobs::{JobStore, SlotWrite};
pub use live_codes::LiveCodeStore;
pub use redemption_log::RedemptionLogStore;
pub use release::ReleaseStore;
pub use reservations::ReservationStore;
pub use rollback::RollbackStore;
pub use tenants::TenantStore;

use crate::code::CouponCode;
use crate::error::{ApiError, Refusal};

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
