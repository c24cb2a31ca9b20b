//! One batch of a job, by its kind: a generation's slots drawn and
//! written, an import's listed codes written or skipped, a page of a
//! campaign's codes deleted.

use common::campaign::CampaignId;
use common::code::CouponCode;
use common::coupon::Coupon;
use common::job::{Generation, JOB_BATCH, Job, SlotDraws};
use common::pattern::CodeFormat;
use common::store::{CampaignStore, DynamoStore, JobWorkerStore, Missing, SlotWrite, StoreError};
use common::tenant::TenantId;
use futures_util::future::join_all;

/// Conditional puts in flight at once.
const PUTS_IN_FLIGHT: usize = 32;
/// Code deletes in flight at once: each is a transaction that also counts
/// the code out of its campaign, so all of them write the one campaign item,
/// and DynamoDB cancels concurrent transactions on an item
/// (`TransactionConflict`). A few at a time keep near the item's ceiling of
/// about 500 transactions a second without conflicting much.
const DELETES_IN_FLIGHT: usize = 4;
/// Draws per slot before the job gives up: with the keyspace policy's
/// density below one in a million, even two collisions in a row are rare.
const MAX_ATTEMPTS: u32 = 8;

/// What working one batch came to.
pub(crate) enum Batch {
    Done(BatchDone),
    LeaseLost,
    /// The job cannot go on, for this reason.
    Failed(&'static str),
}

pub(crate) struct BatchDone {
    pub(crate) codes: Vec<CouponCode>,
    pub(crate) skipped: Vec<CouponCode>,
    pub(crate) resume_after: Option<CouponCode>,
    pub(crate) last: bool,
}

/// One run's hold on a job.
pub(crate) struct Run<'a> {
    pub(crate) store: &'a DynamoStore,
    pub(crate) tenant: &'a TenantId,
    pub(crate) owner: &'a str,
}

impl Run<'_> {
    /// Writes a generation's batch: each slot's code, drawn again when
    /// another coupon has it.
    pub(crate) async fn generate(
        &self,
        job: &Job,
        generation: &Generation,
        format: &CodeFormat,
        draws: &SlotDraws,
        batch: u64,
    ) -> Result<Batch, StoreError> {
        let slots: Vec<u64> = job.slots(batch).collect();
        let mut codes = Vec::with_capacity(slots.len());
        for chunk in slots.chunks(PUTS_IN_FLIGHT) {
            let writes = chunk
                .iter()
                .map(|&slot| self.write_slot(job, generation, draws, format, slot));
            let mut colliding = false;
            for outcome in join_all(writes).await {
                match outcome? {
                    Slot::Written(code) => codes.push(code),
                    Slot::LeaseLost => return Ok(Batch::LeaseLost),
                    Slot::KeptColliding => colliding = true,
                }
            }
            if colliding {
                // The unfinished batch is not listed: remove what it wrote.
                self.store.discard_coupons(self.tenant, &codes).await?;
                return Ok(Batch::Failed(
                    "generated codes kept colliding with existing ones",
                ));
            }
        }
        Ok(Batch::Done(BatchDone {
            codes,
            skipped: Vec::new(),
            resume_after: None,
            last: Some(batch + 1) == job.batches(),
        }))
    }

    /// Writes the coupon of one slot: its recorded draw, or the next one when
    /// that code belongs to another coupon (recorded before it is written, so
    /// a resumed run draws the same).
    async fn write_slot(
        &self,
        job: &Job,
        generation: &Generation,
        draws: &SlotDraws,
        format: &CodeFormat,
        slot: u64,
    ) -> Result<Slot, StoreError> {
        let mut attempt = generation.replaced.get(&slot).copied().unwrap_or(0);
        loop {
            let coupon = Coupon {
                code: draws.draw(format, slot, attempt).0,
                ..generation.template.clone()
            };
            let shape = Some(generation.shape_key.as_str());
            match self
                .store
                .put_job_coupon(self.tenant, &job.job_id, &coupon, slot, shape)
                .await?
            {
                SlotWrite::Written | SlotWrite::Ours => return Ok(Slot::Written(coupon.code)),
                SlotWrite::Taken => {}
            }
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                return Ok(Slot::KeptColliding);
            }
            if !self
                .store
                .move_slot(self.tenant, &job.job_id, self.owner, slot, attempt)
                .await?
            {
                return Ok(Slot::LeaseLost);
            }
        }
    }

    /// Writes an import's batch: each listed code with its uses, unless a
    /// coupon has the code already (then it is skipped, never overwritten).
    pub(crate) async fn import(
        &self,
        job: &Job,
        template: &Coupon,
        batch: u64,
    ) -> Result<Batch, StoreError> {
        let Some(listed) = self
            .store
            .job_input(self.tenant, &job.job_id, batch)
            .await?
        else {
            return Ok(Batch::Failed(
                "the import's listed codes are gone: they are kept for 7 days",
            ));
        };
        let first_slot = batch * JOB_BATCH;
        let mut codes = Vec::with_capacity(listed.len());
        let mut skipped = Vec::new();
        for (index, chunk) in listed.chunks(PUTS_IN_FLIGHT).enumerate() {
            let writes = chunk.iter().enumerate().map(|(i, listed)| async move {
                let coupon = Coupon {
                    code: listed.code.clone(),
                    uses_left: listed.uses,
                    ..template.clone()
                };
                let slot = first_slot + (index * PUTS_IN_FLIGHT + i) as u64;
                let write = self
                    .store
                    .put_job_coupon(self.tenant, &job.job_id, &coupon, slot, None)
                    .await?;
                Ok::<_, StoreError>((coupon.code, write))
            });
            for outcome in join_all(writes).await {
                match outcome? {
                    (code, SlotWrite::Written | SlotWrite::Ours) => codes.push(code),
                    (code, SlotWrite::Taken) => skipped.push(code),
                }
            }
        }
        Ok(Batch::Done(BatchDone {
            codes,
            skipped,
            resume_after: None,
            last: Some(batch + 1) == job.batches(),
        }))
    }

    /// Deletes the next page of a campaign's codes (from its index, after
    /// the last code the job deleted). A code gone already is passed over.
    pub(crate) async fn delete(
        &self,
        job: &Job,
        campaign_id: &CampaignId,
    ) -> Result<Batch, StoreError> {
        let page = self
            .store
            .list_campaign_coupons(
                self.tenant,
                campaign_id,
                JOB_BATCH as u32,
                job.resume_after.as_ref(),
            )
            .await?;
        let resume_after = page.items.last().map(|c| c.code.clone());
        let now = common::dates::now();
        let mut codes = Vec::with_capacity(page.items.len());
        for chunk in page.items.chunks(DELETES_IN_FLIGHT) {
            let deletes = chunk.iter().map(|coupon| async move {
                match self
                    .store
                    .retire_coupon(self.tenant, &coupon.code, Some(&job.job_id), now)
                    .await
                {
                    Ok(()) => Ok(Some(coupon.code.clone())),
                    Err(StoreError::NotFound(Missing::Coupon)) => Ok(None),
                    Err(e) => Err(e),
                }
            });
            for deleted in join_all(deletes).await {
                codes.extend(deleted?);
            }
        }
        Ok(Batch::Done(BatchDone {
            codes,
            skipped: Vec::new(),
            last: page.next.is_none(),
            resume_after,
        }))
    }
}

enum Slot {
    Written(CouponCode),
    LeaseLost,
    KeptColliding,
}
