//! Campaigns: create, read with what they have spent, list, change in one
//! write, delete when empty; and the count of codes that keeps a campaign
//! with codes from being deleted. See `budget` for how its codes spend.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::budget::budget_key;
use super::campaign_change::CampaignPatch;
use super::campaign_item::*;
use super::coupon_index::CodeIndex;
use super::item::*;
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, write_failed};
use super::{DynamoStore, Missing, Page, StoreError, StoreResult};
use crate::campaign::{Campaign, CampaignId, Spent, check};
use crate::coupon::Coupon;
use crate::tenant::TenantId;

pub trait CampaignStore: Send + Sync {
    /// Writes a new campaign and its budget shards in one transaction.
    fn create_campaign(
        &self,
        tenant: &TenantId,
        campaign: &Campaign,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The campaign with what it has spent (its shards' sums).
    fn get_campaign(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
    ) -> impl Future<Output = StoreResult<Option<Campaign>>> + Send;

    /// The tenant's campaigns, newest first, with what each has spent.
    fn list_campaigns(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&CampaignId>,
    ) -> impl Future<Output = StoreResult<Page<Campaign, CampaignId>>> + Send;

    /// Changes a campaign, its offer, `active` and budgets, in one
    /// transaction with every budget shard: from its commit on, every
    /// consume of its codes sees the change. A budget is never set below
    /// what is spent and held.
    fn update_campaign(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        patch: &CampaignPatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Campaign>> + Send;

    /// Deletes a campaign without codes and its shards.
    fn delete_campaign(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Counts `delta` codes into (or out of) the campaign, before they are
    /// written (or after they were not): answers the campaign, without
    /// what it spent. `NotFound` when it does not exist.
    fn count_campaign_codes(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        delta: i64,
    ) -> impl Future<Output = StoreResult<Campaign>> + Send;

    /// A page of the campaign's codes, sorted by code.
    fn list_campaign_coupons(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        limit: u32,
        after: Option<&crate::code::CouponCode>,
    ) -> impl Future<Output = StoreResult<Page<Coupon>>> + Send;
}

/// The sums of a campaign's budget shards.
fn spent_of(shards: &[Option<BudgetShard>]) -> Spent {
    let mut spent = Spent::default();
    for shard in shards.iter().flatten() {
        spent.redeemed_count += shard.redeemed_count;
        spent.discount_total += shard.discount_total;
        spent.held_uses += shard.held_uses;
        spent.held_amount += shard.held_amount;
    }
    spent
}

impl DynamoStore {
    /// The campaign item and its shards, as `get_campaign` answers them.
    async fn read_campaign(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
    ) -> StoreResult<Option<(Campaign, Vec<Option<BudgetShard>>)>> {
        let shards = crate::campaign::CAMPAIGN_SHARDS;
        let (item, budget) = self.read_budget(tenant, id, shards).await?;
        let Some(item) = item else {
            return Ok(None);
        };
        let mut campaign = campaign_from(&item)?;
        let budget = if campaign.shards == shards {
            budget
        } else {
            self.read_budget(tenant, id, campaign.shards).await?.1
        };
        campaign.spent = Some(spent_of(&budget));
        Ok(Some((campaign, budget)))
    }

    /// Gives campaign codes among `coupons` their campaign's terms.
    pub(super) async fn join_campaigns(
        &self,
        tenant: &TenantId,
        coupons: &mut [Coupon],
    ) -> StoreResult<()> {
        let mut ids: Vec<&CampaignId> = coupons
            .iter()
            .filter_map(|c| c.campaign_id.as_ref())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.dedup();
        let keys = ids
            .iter()
            .map(|id| (campaign_pk(tenant, id), CAMPAIGN_SK.to_owned()))
            .collect();
        let found = self.get_many(keys).await?;
        let mut campaigns: HashMap<CampaignId, Campaign> = HashMap::new();
        for item in found.values() {
            let campaign = campaign_from(item)?;
            campaigns.insert(campaign.id.clone(), campaign);
        }
        for coupon in coupons.iter_mut() {
            let Some(id) = &coupon.campaign_id else {
                continue;
            };
            // A campaign with codes is never deleted (`coupon_count`).
            let campaign = campaigns.get(id).ok_or_else(|| StoreError::Corrupt {
                key: coupon_pk(tenant, &coupon.code),
                what: format!("campaign {id}"),
            })?;
            *coupon = coupon.clone().in_campaign(campaign);
        }
        Ok(())
    }
}

impl CampaignStore for DynamoStore {
    async fn create_campaign(&self, tenant: &TenantId, campaign: &Campaign) -> StoreResult<()> {
        let mut tx = self.transaction();
        let item = tx.put(
            campaign_item(tenant, campaign),
            Some("attribute_not_exists(PK)"),
            Item::new(),
        )?;
        for shard in budget_shard_items(tenant, campaign) {
            tx.put(shard, None, Item::new())?;
        }
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let Some(cancelled) = self
                .transact(tx.clone(), Some(campaign.id.as_str()))
                .await?
            else {
                return Ok(());
            };
            // The id is fresh: if the campaign exists, an earlier try of this
            // very transaction committed and only its answer was lost.
            if cancelled.refused(item) {
                return Ok(());
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("create campaign"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("create campaign"))
    }

    async fn get_campaign(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
    ) -> StoreResult<Option<Campaign>> {
        Ok(self.read_campaign(tenant, id).await?.map(|(c, _)| c))
    }

    async fn list_campaigns(
        &self,
        tenant: &TenantId,
        limit: u32,
        after: Option<&CampaignId>,
    ) -> StoreResult<Page<Campaign, CampaignId>> {
        let start = after.map(|id| {
            Item::from([
                (PK.to_owned(), s(campaign_pk(tenant, id))),
                (SK.to_owned(), s(CAMPAIGN_SK)),
                (GSI1PK.to_owned(), s(campaigns_gsi1pk(tenant))),
                (GSI1SK.to_owned(), s(id.as_str())),
            ])
        });
        let (items, more) = self
            .gsi1_page(campaigns_gsi1pk(tenant), limit, start, true)
            .await?;
        let mut campaigns = items
            .iter()
            .map(campaign_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let keys = campaigns
            .iter()
            .flat_map(|c| (0..c.shards).map(|shard| budget_key(tenant, &c.id, shard)))
            .collect();
        let mut found = self.get_many(keys).await?;
        for campaign in &mut campaigns {
            let shards = (0..campaign.shards)
                .map(|shard| {
                    found
                        .remove(&budget_shard_pk(tenant, &campaign.id, shard))
                        .as_ref()
                        .map(budget_shard_from)
                        .transpose()
                })
                .collect::<StoreResult<Vec<_>>>()?;
            campaign.spent = Some(spent_of(&shards));
        }
        let next = more
            .then(|| campaigns.last().map(|c| c.id.clone()))
            .flatten();
        Ok(Page {
            items: campaigns,
            next,
        })
    }

    async fn update_campaign(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        patch: &CampaignPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Campaign> {
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let Some((current, shards)) = self.read_campaign(tenant, id).await? else {
                return Err(StoreError::NotFound(Missing::Campaign));
            };
            let mut changed = patch.apply(&current);
            check(&changed.offer, &changed.budget)?;
            changed.revision = current.revision + 1;
            changed.updated_at = now;
            let tx = self.campaign_change(tenant, &current, &changed, &shards)?;
            let Some(cancelled) = self.transact(tx, None).await? else {
                return Ok(changed);
            };
            // Changed by another request, or spent from, since the read:
            // read again.
            if !cancelled.conflicted() && !cancelled.any_refused() {
                return Err(cancelled.unexplained("update campaign"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("update campaign"))
    }

    async fn delete_campaign(&self, tenant: &TenantId, id: &CampaignId) -> StoreResult<()> {
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let Some(item) = self.get(campaign_pk(tenant, id), CAMPAIGN_SK).await? else {
                return Err(StoreError::NotFound(Missing::Campaign));
            };
            let campaign = campaign_from(&item)?;
            let mut tx = self.transaction();
            let slot = tx.delete(
                (campaign_pk(tenant, id), CAMPAIGN_SK.to_owned()),
                Some("coupon_count = :zero"),
                Item::from([(":zero".into(), n(0))]),
            )?;
            for shard in 0..campaign.shards {
                tx.delete(budget_key(tenant, id, shard), None, Item::new())?;
            }
            let Some(cancelled) = self.transact(tx, None).await? else {
                return Ok(());
            };
            if let Some(current) = cancelled.failed(slot) {
                return match current.map(campaign_from).transpose()? {
                    Some(campaign) => Err(StoreError::CampaignNotEmpty(campaign.coupon_count)),
                    None => Err(StoreError::NotFound(Missing::Campaign)),
                };
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("delete campaign"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("delete campaign"))
    }

    async fn count_campaign_codes(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        delta: i64,
    ) -> StoreResult<Campaign> {
        let mut condition = "attribute_exists(PK)".to_owned();
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(campaign_pk(tenant, id)))
            .key(SK, s(CAMPAIGN_SK))
            .update_expression("ADD coupon_count :delta")
            .expression_attribute_values(":delta", n(delta))
            .return_values(ReturnValue::AllNew);
        if delta < 0 {
            // Never below zero.
            condition.push_str(" AND coupon_count >= :taken");
            update = update.expression_attribute_values(":taken", n(-delta));
        }
        match update.condition_expression(condition).send().await {
            Ok(output) => campaign_from(&output.attributes.unwrap_or_default()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) if delta >= 0 => {
                    Err(StoreError::NotFound(Missing::Campaign))
                }
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    Err(StoreError::Corrupt {
                        key: campaign_pk(tenant, id),
                        what: "coupon_count".into(),
                    })
                }
                _ => Err(write_failed(e)),
            },
        }
    }

    async fn list_campaign_coupons(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
        limit: u32,
        after: Option<&crate::code::CouponCode>,
    ) -> StoreResult<Page<Coupon>> {
        let partition = campaign_codes_gsi2pk(tenant, id);
        self.coupons_by_code(tenant, CodeIndex::GSI2, partition, limit, after)
            .await
    }
}
