//! The table's stream read back: which committed change a record shows
//! (`StreamChange`), for the events function. The stream carries new
//! images only (`NEW_IMAGE`), so every change an event reports is told by
//! an item as written: a log row, a coupon item or shard that a consume
//! left empty, a job that finished, an export's record, a deleted
//! coupon's clean-up task.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::cleanup::{CLEANUP_TYPE, DeletedCoupon};
use super::exports::export_from;
use super::item::*;
use super::job_item::job_from;
use super::log_item::redemption_from;
use super::schema::*;
use super::{DynamoStore, StoreResult};
use crate::code::CouponCode;
use crate::coupon::{Coupon, Redemption};
use crate::export::ExportRecord;
use crate::job::{Job, JobStatus};
use crate::tenant::TenantId;

/// A change worth an event, as one stream record shows it.
#[derive(Debug)]
pub enum StreamChange {
    /// A log row: a consume or a rollback's reversal.
    Logged(TenantId, Box<Redemption>),
    /// A coupon made one at a time (a job's codes are not: the job reports them).
    CouponCreated(TenantId, Box<Coupon>),
    /// A coupon deleted on its own (not by a campaign's delete job).
    CouponDeleted {
        deleted: DeletedCoupon,
        at: DateTime<Utc>,
    },
    /// A consume took the last use of a coupon with nothing held.
    CouponEmptied {
        tenant: TenantId,
        code: CouponCode,
        created_at: DateTime<Utc>,
        redemption_id: String,
        at: DateTime<Utc>,
    },
    /// A consume emptied one shard of a `high_demand` coupon; the coupon is
    /// exhausted if its other shards are empty too (`sharded_exhaustion`).
    ShardEmptied {
        tenant: TenantId,
        code: CouponCode,
        created_at: DateTime<Utc>,
    },
    JobFinished(TenantId, Box<Job>),
    ExportWritten(TenantId, ExportRecord),
}

impl StreamChange {
    /// The change a stream record (as Lambda delivers it) shows, if any.
    /// A record this version cannot read is an error: the batch is retried
    /// and, once Lambda gives up on it, kept in the failure destination.
    pub fn of(record: &Value) -> StoreResult<Option<StreamChange>> {
        let event_name = record["eventName"].as_str().unwrap_or_default();
        let Some(item) = image_item(&record["dynamodb"]["NewImage"]) else {
            // REMOVE records carry keys only; deletes are told by their task.
            return Ok(None);
        };
        let inserted = event_name == "INSERT";
        let tenant = || {
            get_s(&item, PK)
                .and_then(tenant_of_pk)
                .ok_or_else(|| corrupt(&item, PK))
        };
        Ok(match get_s(&item, "type") {
            Some("redemption") if inserted => Some(StreamChange::Logged(
                tenant()?,
                Box::new(redemption_from(&item)?),
            )),
            Some("coupon") if inserted && !item.contains_key("job_id") => Some(
                StreamChange::CouponCreated(tenant()?, Box::new(coupon_from(&item)?)),
            ),
            Some("coupon") if !inserted && emptied_by_a_consume(&item) => {
                Some(StreamChange::CouponEmptied {
                    tenant: tenant()?,
                    code: code_of(&item)?,
                    created_at: req_time(&item, "created_at")?,
                    redemption_id: req(
                        &item,
                        get_s(&item, "last_redemption_id"),
                        "last_redemption_id",
                    )?
                    .to_owned(),
                    at: req_time(&item, "updated_at")?,
                })
            }
            Some("coupon_shard") if !inserted && emptied_by_a_consume(&item) => {
                Some(StreamChange::ShardEmptied {
                    tenant: tenant()?,
                    code: code_of(&item)?,
                    created_at: req_time(&item, "created_at")?,
                })
            }
            Some(CLEANUP_TYPE) if inserted && !item.contains_key("job_id") => {
                Some(StreamChange::CouponDeleted {
                    deleted: DeletedCoupon::from_item(&item)
                        .ok_or_else(|| corrupt(&item, "code"))?,
                    at: req_time(&item, "deleted_at")?,
                })
            }
            Some("job") => {
                let job = job_from(&item)?;
                match job.status {
                    JobStatus::Succeeded | JobStatus::Failed => {
                        Some(StreamChange::JobFinished(tenant()?, Box::new(job)))
                    }
                    JobStatus::Pending | JobStatus::Running => None,
                }
            }
            Some("export") => Some(StreamChange::ExportWritten(tenant()?, export_from(&item)?)),
            _ => None,
        })
    }
}

/// Whether this write of a coupon item (or shard) was a consume that left
/// it without uses, free or held: the consume names its log row on the
/// item and sets `updated_at` to that row's time, which no later write of
/// another kind keeps (each sets its own `updated_at`).
fn emptied_by_a_consume(item: &Item) -> bool {
    let count = |name: &str| get_n::<i64>(item, name).unwrap_or(0);
    let by_consume = get_s(item, "last_redemption_id")
        .and_then(Redemption::time_of_id)
        .zip(get_time(item, "updated_at"))
        .is_some_and(|(consumed, updated)| consumed == updated);
    by_consume
        && item.contains_key("uses_left")
        && count("uses_left") == 0
        && count("reserved_count") == 0
}

/// The tenant a key belongs to: every tenant's key starts `T#{tenant}#`.
fn tenant_of_pk(pk: &str) -> Option<TenantId> {
    let rest = pk.strip_prefix("T#")?;
    TenantId::parse(&rest[..rest.find('#')?]).ok()
}

impl DynamoStore {
    /// Whether the `high_demand` coupon `code` (the one created at
    /// `created_at`) has no use left or held in any shard; then the use
    /// that took its last one (the latest use any shard names).
    pub async fn sharded_exhaustion(
        &self,
        tenant: &TenantId,
        code: &CouponCode,
        created_at: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let Some(item) = self.get(coupon_pk(tenant, code), COUPON_SK).await? else {
            return Ok(None);
        };
        let coupon = coupon_from(&item)?;
        if coupon.created_at != created_at || coupon.shards == 0 {
            return Ok(None);
        }
        let keys = (0..coupon.shards)
            .map(|shard| (shard_pk(tenant, code, shard), SHARD_SK.to_owned()))
            .collect();
        let shards = self.get_many(keys).await?;
        let mut last: Option<String> = None;
        for shard in shards.values() {
            if shard_identity(shard).0 != Some(created_at) {
                continue;
            }
            let [uses_left, _, reserved] = shard_counts(shard)?;
            if uses_left > 0 || reserved > 0 {
                return Ok(None);
            }
            // Redemption ids are UUIDv7: later ones sort later.
            if let Some(id) = get_s(shard, "last_redemption_id")
                && last.as_deref().is_none_or(|l| id > l)
            {
                last = Some(id.to_owned());
            }
        }
        Ok(last)
    }
}

/// A stream image (DynamoDB's JSON: `{"name": {"S": "..."}}`) as an item.
fn image_item(image: &Value) -> Option<Item> {
    image
        .as_object()?
        .iter()
        .map(|(name, value)| Some((name.clone(), attribute(value)?)))
        .collect()
}

fn attribute(value: &Value) -> Option<AttributeValue> {
    let (kind, value) = value.as_object()?.iter().next()?;
    let strings = || -> Option<Vec<String>> {
        value
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let blob = |v: &Value| -> Option<Blob> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.as_str()?)
            .ok()?;
        Some(Blob::new(bytes))
    };
    Some(match kind.as_str() {
        "S" => AttributeValue::S(value.as_str()?.to_owned()),
        "N" => AttributeValue::N(value.as_str()?.to_owned()),
        "BOOL" => AttributeValue::Bool(value.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(value)?),
        "SS" => AttributeValue::Ss(strings()?),
        "NS" => AttributeValue::Ns(strings()?),
        "BS" => AttributeValue::Bs(value.as_array()?.iter().map(blob).collect::<Option<_>>()?),
        "L" => AttributeValue::L(
            value
                .as_array()?
                .iter()
                .map(attribute)
                .collect::<Option<_>>()?,
        ),
        "M" => AttributeValue::M(
            value
                .as_object()?
                .iter()
                .map(|(k, v)| Some((k.clone(), attribute(v)?)))
                .collect::<Option<HashMap<_, _>>>()?,
        ),
        _ => return None,
    })
}
