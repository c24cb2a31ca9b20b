//! Rollback: a consume undone by a reversal row in the log, with its use
//! (and the customer's count) given back, once.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::item::*;
use super::ledger::LedgerStore;
use super::log_item::redemption_item;
use super::release::GiveBack;
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts};
use super::{DynamoStore, Missing, StoreError, StoreResult};
use crate::coupon::{Redemption, RedemptionKind};
use crate::refusal::Refusal;
use crate::tenant::TenantId;

pub trait RollbackStore: Send + Sync {
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
}

impl RollbackStore for DynamoStore {
    async fn get_redemption(
        &self,
        tenant: &TenantId,
        redemption_id: &str,
    ) -> StoreResult<Option<Redemption>> {
        let row = self.ledger_entry(tenant, redemption_id).await?;
        Ok(row.filter(|row| row.kind == RedemptionKind::Consume))
    }

    async fn roll_back(
        &self,
        tenant: &TenantId,
        original: &Redemption,
        now: DateTime<Utc>,
    ) -> StoreResult<(Redemption, bool)> {
        let reversal = Redemption {
            redemption_id: Redemption::new_id(now),
            kind: RedemptionKind::Reversal,
            reverses: Some(original.redemption_id.clone()),
            rolled_back_by: None,
            reservation_id: None,
            consumed_at: now,
            ..original.clone()
        };
        let mut give_back = GiveBack::of_redemption(original);
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let at = original.consumed_at;
            let mut tx = self.transaction();
            let mark = tx.update(
                redemption_key(tenant, at, &original.redemption_id),
                "SET rolled_back_by = :reversal, rolled_back_at = :now",
                "attribute_exists(PK) AND attribute_not_exists(rolled_back_by)",
                &[],
                Item::from([
                    (":reversal".into(), s(&reversal.redemption_id)),
                    (":now".into(), time(now)),
                ]),
            )?;
            let reversal_row = tx.put(
                redemption_item(tenant, &reversal),
                Some("attribute_not_exists(PK)"),
                Item::new(),
            )?;
            let slots = give_back.push(&mut tx, tenant, now)?;
            // A token per attempt: the attempts differ once the coupon is gone.
            let token = uuid::Uuid::new_v4().to_string();
            let cancelled = self.transact(tx, Some(&token)).await?;
            // Our reversal row exists already: an earlier try committed.
            let Some(cancelled) = cancelled.filter(|c| !c.refused(reversal_row)) else {
                return Ok((reversal, give_back.gives_use_back()));
            };
            if let Some(row) = cancelled.failed(mark) {
                return Err(match row {
                    Some(_) => StoreError::Refused(Refusal::AlreadyRolledBack),
                    None => StoreError::NotFound(Missing::Redemption),
                });
            }
            if cancelled.conflicted() {
                attempts.back_off().await;
                continue;
            }
            if give_back.after(&cancelled, slots) {
                continue;
            }
            return Err(cancelled.unexplained("rollback"));
        }
        Err(Attempts::spent("rollback"))
    }
}
