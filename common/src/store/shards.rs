//! Counter shards of `high_demand` coupons: the coupon item keeps the terms,
//! and its uses are spread over `shards` items with partition keys of their
//! own, so a flash sale's consumes do not all write one item. Every change
//! of terms bumps `revision` on the coupon and on every shard in one
//! transaction; a consume that writes only a shard requires the revision it
//! read, so it can never pass terms that changed under it.

use chrono::{DateTime, Utc};

use super::item::*;
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, Key};
use super::{DynamoStore, StoreResult};
use crate::code::CouponCode;
use crate::coupon::{Coupon, shard_shares};
use crate::tenant::TenantId;

/// A coupon's shard as a consume or reserve found it when its condition failed.
pub(super) enum ShardState {
    /// Same coupon, same terms: the shard just has nothing left (`reserved`
    /// tells whether some of its uses sit in reservations).
    Empty { reserved: bool },
    /// The coupon was deleted, re-created or changed terms: read it again.
    Stale,
}

impl ShardState {
    pub(super) fn of(seen: &Coupon, item: Option<&Item>) -> StoreResult<ShardState> {
        let Some(item) = item else {
            return Ok(ShardState::Stale);
        };
        if shard_identity(item) != (Some(seen.created_at), Some(seen.revision)) {
            return Ok(ShardState::Stale);
        }
        let [_, _, reserved] = shard_counts(item)?;
        Ok(ShardState::Empty {
            reserved: reserved > 0,
        })
    }
}

pub(super) fn shard_key(tenant: &TenantId, code: &CouponCode, shard: u32) -> Key {
    (shard_pk(tenant, code, shard), SHARD_SK.to_owned())
}

impl DynamoStore {
    /// Writes a new `high_demand` coupon and its shards in one transaction,
    /// unless the code exists: `false` when it does. Shards a deleted coupon
    /// may have left behind are overwritten.
    pub(super) async fn put_new_sharded(
        &self,
        tenant: &TenantId,
        coupon: &Coupon,
        extra: Item,
    ) -> StoreResult<bool> {
        let mut item = coupon_item(tenant, coupon);
        item.extend(extra);
        let mut tx = self.transaction();
        let coupon_slot = tx.put(item, Some("attribute_not_exists(PK)"), Item::new())?;
        for shard in shard_items(tenant, coupon) {
            tx.put(shard, None, Item::new())?;
        }
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let Some(cancelled) = self.transact(tx.clone(), None).await? else {
                return Ok(true);
            };
            if cancelled.refused(coupon_slot) {
                return Ok(false);
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("create"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("create"))
    }

    /// Every shard of each sharded coupon, by coupon index and shard number
    /// (`None` where a shard is missing), read strongly consistent.
    async fn read_shards(
        &self,
        tenant: &TenantId,
        coupons: &[&Coupon],
    ) -> StoreResult<Vec<Vec<Option<Item>>>> {
        let keys = coupons
            .iter()
            .flat_map(|coupon| {
                (0..coupon.shards).map(|shard| shard_key(tenant, &coupon.code, shard))
            })
            .collect();
        let mut found = self.get_many(keys).await?;
        Ok(coupons
            .iter()
            .map(|coupon| {
                (0..coupon.shards)
                    .map(|shard| found.remove(&shard_pk(tenant, &coupon.code, shard)))
                    .collect()
            })
            .collect())
    }

    /// Fills in the counts of the sharded coupons among `coupons` from their
    /// shards; others are left as they are.
    pub(super) async fn add_shard_counts(
        &self,
        tenant: &TenantId,
        coupons: &mut [Coupon],
    ) -> StoreResult<()> {
        let sharded: Vec<&Coupon> = coupons.iter().filter(|c| c.shards > 0).collect();
        if sharded.is_empty() {
            return Ok(());
        }
        let shards = self.read_shards(tenant, &sharded).await?;
        for (coupon, shards) in coupons.iter_mut().filter(|c| c.shards > 0).zip(shards) {
            let [mut uses_left, mut redeemed, mut reserved] = [0; 3];
            for item in shards.iter().flatten() {
                // A shard of an older coupon under the same code counts nothing.
                if shard_identity(item).0 != Some(coupon.created_at) {
                    continue;
                }
                let [u, d, r] = shard_counts(item)?;
                uses_left += u;
                redeemed += d;
                reserved += r;
            }
            coupon.uses_left = uses_left;
            coupon.redeemed_count = redeemed;
            coupon.reserved_count = reserved;
        }
        Ok(())
    }

    /// The shards of `coupon` (same coupon, same terms) that have uses left,
    /// and whether any holds reservations: what a consume tries next once
    /// the shard it picked ran dry.
    pub(super) async fn shards_with_uses(
        &self,
        tenant: &TenantId,
        coupon: &Coupon,
    ) -> StoreResult<(Vec<u32>, bool)> {
        let shards = self.read_shards(tenant, &[coupon]).await?;
        let mut with_uses = Vec::new();
        let mut reserved = false;
        for (shard, item) in shards.into_iter().flatten().enumerate() {
            let Some(item) = item else { continue };
            if shard_identity(&item) != (Some(coupon.created_at), Some(coupon.revision)) {
                continue;
            }
            let [uses_left, _, held] = shard_counts(&item)?;
            if uses_left > 0 {
                with_uses.push(shard as u32);
            }
            reserved |= held > 0;
        }
        Ok((with_uses, reserved))
    }

    /// A change of a sharded coupon's terms (and maybe its uses), on the
    /// coupon and all its shards at once: `expression` and `values` update
    /// the coupon item; `uses_left`, if given, is spread over the shards.
    /// Each shard's `updated_at` becomes `now`: the stream tells a consume
    /// that emptied a shard by its `updated_at` (see `store::stream`).
    pub(super) async fn update_sharded(
        &self,
        tenant: &TenantId,
        current: &Coupon,
        expression: &str,
        mut values: Item,
        uses_left: Option<u64>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let same_coupon = "attribute_exists(PK) AND created_at = :created_at";
        values.insert(":created_at".into(), time(current.created_at));
        values.insert(":one".into(), n(1));
        let mut tx = self.transaction();
        tx.update(
            coupon_key(tenant, &current.code),
            &format!("{expression} ADD revision :one"),
            same_coupon,
            &[],
            values,
        )?;
        let shares = uses_left.map(|total| shard_shares(total, current.shards));
        for shard in 0..current.shards {
            let mut values = Item::from([
                (":created_at".into(), time(current.created_at)),
                (":one".into(), n(1)),
                (":now".into(), time(now)),
            ]);
            let expression = match &shares {
                Some(shares) => {
                    values.insert(":uses_left".into(), n(shares[shard as usize]));
                    "SET uses_left = :uses_left, updated_at = :now ADD revision :one"
                }
                None => "SET updated_at = :now ADD revision :one",
            };
            tx.update(
                shard_key(tenant, &current.code, shard),
                expression,
                same_coupon,
                &[],
                values,
            )?;
        }
        let mut attempts = Attempts::new(ATTEMPTS);
        while attempts.another() {
            let Some(cancelled) = self.transact(tx.clone(), None).await? else {
                return Ok(true);
            };
            if tx.slots().any(|slot| cancelled.refused(slot)) {
                // Deleted, or re-created under its code, since it was read.
                return Ok(false);
            }
            if !cancelled.conflicted() {
                return Err(cancelled.unexplained("update"));
            }
            attempts.back_off().await;
        }
        Err(Attempts::spent("update"))
    }
}

/// A shard to write: a random one of those known to have room, or of all
/// `shards` before any is known, spreading a crowd's writes evenly.
pub(super) fn pick_shard(known: Option<&[u32]>, shards: u32) -> u32 {
    use rand::RngExt;
    match known {
        Some(known) if !known.is_empty() => known[rand::rng().random_range(0..known.len())],
        _ => rand::rng().random_range(0..shards.max(1)),
    }
}
