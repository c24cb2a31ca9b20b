//! Assigning a pool code: one unassigned code of a campaign becomes one
//! customer's personal code in one conditional write, so no code ever goes
//! to two customers. With the shop's `source_id`, a record of the
//! assignment is written in the same transaction, so a retry (or a request
//! racing it) gets the same code and takes no other.

use std::future::Future;

use chrono::{DateTime, Utc};
use rand::RngExt;

use super::coupons::CouponStore;
use super::item::*;
use super::schema::*;
use super::transact::Attempts;
use super::{DynamoStore, Missing, StoreError, StoreResult};
use crate::campaign::CampaignId;
use crate::code::CouponCode;
use crate::coupon::Coupon;
use crate::tenant::TenantId;

/// Tries at taking a code: each reads the pool afresh. Concurrent
/// assignments contend for its first codes, so give them room.
const ASSIGN_ATTEMPTS: u32 = 16;
/// Pool codes read per try; one of them, at random, is taken.
const POOL_PAGE: u32 = 25;

/// What `POST /coupon/assign` asks for.
#[derive(Debug, Clone, Copy)]
pub struct Assignment<'a> {
    pub campaign: &'a CampaignId,
    pub customer: &'a str,
    /// The shop's own id for this assignment: the same one again gets the
    /// same code.
    pub source_id: Option<&'a str>,
    pub now: DateTime<Utc>,
}

#[derive(Debug)]
pub enum Assigned {
    /// This request took the code.
    Fresh(Box<Coupon>),
    /// An earlier request with the same customer and `source_id` did.
    Again(Box<Coupon>),
}

pub trait AssignStore: Send + Sync {
    /// Makes one unassigned code of the campaign the customer's, or finds
    /// the code an earlier assignment with the same `source_id` took.
    /// `PoolEmpty` when the campaign has no unassigned code.
    fn assign_from_pool(
        &self,
        tenant: &TenantId,
        assignment: Assignment<'_>,
    ) -> impl Future<Output = StoreResult<Assigned>> + Send;
}

impl AssignStore for DynamoStore {
    async fn assign_from_pool(
        &self,
        tenant: &TenantId,
        assignment: Assignment<'_>,
    ) -> StoreResult<Assigned> {
        let Assignment {
            campaign,
            customer,
            source_id,
            now,
        } = assignment;
        let record_key = source_id.map(|id| assignment_pk(tenant, customer, id));
        if let Some(pk) = &record_key
            && let Some(record) = self.get(pk.clone(), ASSIGNMENT_SK).await?
        {
            return self.assigned_before(tenant, &record, campaign).await;
        }
        let mut attempts = Attempts::new(ASSIGN_ATTEMPTS);
        while attempts.another() {
            let (pool, _) = self
                .index_page(
                    (GSI3, GSI3PK),
                    pool_gsi3pk(tenant, campaign),
                    POOL_PAGE,
                    None,
                    false,
                )
                .await?;
            if pool.is_empty() {
                return Err(StoreError::PoolEmpty(campaign.clone()));
            }
            let picked = &pool[rand::rng().random_range(0..pool.len())];
            let (code, created_at) = (code_of(picked)?, req_time(picked, "created_at")?);

            let mut tx = self.transaction();
            // The index may lag: the condition, not the read, decides.
            let take = tx.update(
                coupon_key(tenant, &code),
                "SET customer_id = :customer, GSI3PK = :owner, updated_at = :now",
                "created_at = :created_at AND attribute_not_exists(customer_id) \
                 AND campaign_id = :campaign AND attribute_not_exists(shards)",
                &[],
                Item::from([
                    (":customer".into(), s(customer)),
                    (":owner".into(), s(owner_gsi3pk(tenant, customer))),
                    (":now".into(), time(now)),
                    (":campaign".into(), s(campaign.as_str())),
                    (":created_at".into(), time(created_at)),
                ]),
            )?;
            let record = match (&record_key, source_id) {
                (Some(pk), Some(source_id)) => Some(tx.put(
                    Item::from([
                        (PK.into(), s(pk)),
                        (SK.into(), s(ASSIGNMENT_SK)),
                        ("type".into(), s("assignment")),
                        ("code".into(), s(code.as_str())),
                        ("customer_id".into(), s(customer)),
                        ("source_id".into(), s(source_id)),
                        ("campaign_id".into(), s(campaign.as_str())),
                        // The coupon it took, not one made later under its code.
                        ("coupon_created_at".into(), time(created_at)),
                        ("created_at".into(), time(now)),
                    ]),
                    Some("attribute_not_exists(PK)"),
                    Item::new(),
                )?),
                _ => None,
            };
            let token = uuid::Uuid::new_v4().to_string();
            let Some(cancelled) = self.transact(tx, Some(&token)).await? else {
                let coupon = self.assigned(tenant, &code, created_at).await?;
                return Ok(Assigned::Fresh(Box::new(coupon)));
            };
            // The same assignment, racing this one, came first.
            if let Some(record) = cancelled.failed(record) {
                let record = record.ok_or(StoreError::NotFound(Missing::Coupon))?;
                return self.assigned_before(tenant, record, campaign).await;
            }
            if !(cancelled.refused(take) || cancelled.conflicted()) {
                return Err(cancelled.unexplained("assign"));
            }
            // Taken by another assignment since the pool was read.
            attempts.back_off().await;
        }
        Err(Attempts::spent("assign"))
    }
}

impl DynamoStore {
    /// The coupon an assignment took, as it is now: gone (`NotFound`) once
    /// deleted, even when a later coupon has its code.
    async fn assigned(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        created_at: DateTime<Utc>,
    ) -> StoreResult<Coupon> {
        self.get_coupon(tenant, code)
            .await?
            .filter(|coupon| coupon.created_at == created_at)
            .ok_or(StoreError::NotFound(Missing::Coupon))
    }

    /// The code an earlier assignment took, as it is now.
    async fn assigned_before(
        &self,
        tenant: &TenantId,
        record: &Item,
        campaign: &CampaignId,
    ) -> StoreResult<Assigned> {
        if get_s(record, "campaign_id") != Some(campaign.as_str()) {
            return Err(StoreError::Invalid(crate::invalid::Invalid(format!(
                "this customer's source_id was assigned a code of campaign {} already",
                get_s(record, "campaign_id").unwrap_or("?")
            ))));
        }
        let (code, created_at) = (code_of(record)?, req_time(record, "coupon_created_at")?);
        let coupon = self.assigned(tenant, &code, created_at).await?;
        Ok(Assigned::Again(Box::new(coupon)))
    }
}
