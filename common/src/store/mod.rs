//! Persistence, one trait per capability. `DynamoStore` implements them all
//! against the single table described in the README.

mod buckets;
mod dynamo;
mod item;
pub mod schema;

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

pub use dynamo::DynamoStore;

use crate::code::CouponCode;
use crate::coupon::{Coupon, CouponPatch, Redemption};
use crate::error::{ApiError, Refusal};
use crate::export::ExportRecord;
use crate::keyspace::Shape;
use crate::tenant::{Tenant, TenantId, TokenRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB failed, throttled or timed out; the operation did not happen.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// An item that should not exist does (a tenant id).
    #[error("it already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("{}", .0.code())]
    Refused(Refusal),
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
            StoreError::AlreadyExists => {
                ApiError::AlreadyExists("that coupon code already exists".into())
            }
            StoreError::NotFound => ApiError::NotFound("no such coupon".into()),
            StoreError::Refused(refusal) => ApiError::Refused(refusal),
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
    /// Deletes the coupon; answers the keyspace shape it counted against, if any.
    fn delete_coupon(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
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

pub trait RedemptionStore: Send + Sync {
    /// Takes one use of `seen` (the coupon as last read) and writes its
    /// redemption row in one transaction. The write is conditional on the
    /// coupon still being usable and still carrying the terms `seen` shows.
    /// Answers the redemption and the coupon as this consume left it.
    fn consume(
        &self,
        tenant: &TenantId,
        seen: &Coupon,
        product_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<(Redemption, Coupon)>> + Send;

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
        after: Option<&str>,
    ) -> impl Future<Output = StoreResult<(Vec<ExportRecord>, Option<String>)>> + Send;
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
