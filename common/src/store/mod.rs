//! Persistence, one trait per capability. `DynamoStore` implements them all
//! against the single table described in the README.

mod assign;
mod buckets;
mod budget;
mod campaign_change;
mod campaign_item;
mod campaigns;
mod cleanup;
mod consume;
mod coupon_index;
mod coupons;
mod customers;
mod deliveries;
mod dynamo;
mod exports;
mod item;
mod job_item;
mod job_record;
mod job_worker;
mod jobs;
mod ledger;
mod live_codes;
mod log_item;
mod redemption_log;
mod release;
mod reservations;
mod rollback;
pub mod schema;
mod shards;
mod stats;
mod stream;
mod take;
mod tenants;
mod transact;
mod usable;
mod webhooks;

pub use assign::{AssignStore, Assigned, Assignment};
pub use campaign_change::CampaignPatch;
pub use campaigns::CampaignStore;
pub use cleanup::{CLEANUP_TYPE, CleanupStore, DeletedCoupon};
pub use consume::{ConsumeRequest, ConsumeStore, Consumed};
pub use coupons::CouponStore;
pub use customers::CustomerCountStore;
pub use deliveries::{DeliveryStore, is_delivery_cursor};
pub use dynamo::DynamoStore;
pub use exports::ExportStore;
pub use job_worker::{BatchRecord, JobWorkerStore, SlotWrite};
pub use jobs::{JobListing, JobStore};
pub use ledger::{LedgerPage, LedgerStore};
pub use live_codes::LiveCodeStore;
pub use redemption_log::RedemptionLogStore;
pub use release::ReleaseStore;
pub use reservations::ReservationStore;
pub use rollback::RollbackStore;
pub use stats::StatsStore;
pub use stream::StreamChange;
pub use tenants::TenantStore;
pub use webhooks::WebhookStore;

use crate::code::CouponCode;
use crate::refusal::Refusal;

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
    /// The item an operation needs is not there (any more).
    #[error("no such {}", .0.noun())]
    NotFound(Missing),
    #[error("{}", .0.code())]
    Refused(Refusal),
    /// An idempotency key came back with different parameters.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// The tenant has this many bulk jobs not finished yet.
    #[error("{0} unfinished jobs")]
    TooManyJobs(u32),
    /// The tenant has this many webhooks, the most it may.
    #[error("{0} webhooks")]
    TooManyWebhooks(u32),
    /// A change the domain refuses, found only against the stored state.
    #[error(transparent)]
    Invalid(#[from] crate::invalid::Invalid),
    /// A campaign that still has this many codes cannot be deleted.
    #[error("the campaign has {0} codes")]
    CampaignNotEmpty(u64),
    /// Every code of this campaign is assigned to a customer.
    #[error("campaign {0} has no unassigned code")]
    PoolEmpty(crate::campaign::CampaignId),
    /// A budget lowered below what the campaign has spent (and holds).
    #[error("{field} {asked} is below the {spent} the campaign has spent or holds")]
    BudgetBelowSpent {
        field: &'static str,
        asked: String,
        spent: String,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a `NotFound` did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Coupon,
    Campaign,
    Reservation,
    Redemption,
    Tenant,
    Token,
    Webhook,
}

impl Missing {
    pub fn noun(self) -> &'static str {
        match self {
            Missing::Coupon => "coupon",
            Missing::Campaign => "campaign",
            Missing::Reservation => "reservation",
            Missing::Redemption => "redemption",
            Missing::Tenant => "tenant",
            Missing::Token => "token",
            Missing::Webhook => "webhook",
        }
    }
}

/// A page of results and where the next one starts (after the key of
/// its last item: a code, or a campaign id).
#[derive(Debug)]
pub struct Page<T, After = CouponCode> {
    pub items: Vec<T>,
    pub next: Option<After>,
}
