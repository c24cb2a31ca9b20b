//! The single table's keys. `template.yaml` declares the same schema; the
//! local stack and the tests create it with [`create_table`].

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::campaign::CampaignId;
use crate::code::CouponCode;
use crate::tenant::TenantId;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
/// A sparse index: campaign codes (by campaign) and log rows (by customer)
/// carry its keys.
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// A third sparse index: personal codes by customer, a campaign's
/// unassigned codes (its pool), and the redemption log by campaign.
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";

/// The coupon item's key.
pub fn coupon_key(tenant: &TenantId, code: &CouponCode) -> (String, String) {
    (coupon_pk(tenant, code), COUPON_SK.to_owned())
}

pub fn coupon_pk(tenant: &TenantId, code: &CouponCode) -> String {
    format!("T#{tenant}#C#{code}")
}
pub const COUPON_SK: &str = "COUPON";
/// GSI1 partition listing a tenant's coupons, sorted by code.
pub fn coupons_gsi1pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#COUPONS")
}

/// A campaign, listed newest first in its tenant's GSI1 partition (its id
/// sorts by creation time).
pub fn campaign_pk(tenant: &TenantId, campaign: &CampaignId) -> String {
    format!("T#{tenant}#CAMP#{campaign}")
}
pub const CAMPAIGN_SK: &str = "CAMPAIGN";
pub fn campaigns_gsi1pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#CAMPAIGNS")
}
/// GSI2 partition of one campaign's codes, sorted by code.
pub fn campaign_codes_gsi2pk(tenant: &TenantId, campaign: &CampaignId) -> String {
    format!("T#{tenant}#CAMP#{campaign}#CODES")
}

/// GSI3 partition of one customer's personal codes, by code.
pub fn owner_gsi3pk(tenant: &TenantId, customer: &str) -> String {
    format!("T#{tenant}#OWNER#{customer}")
}
/// GSI3 partition of a campaign's unassigned codes (its pool), by code.
pub fn pool_gsi3pk(tenant: &TenantId, campaign: &CampaignId) -> String {
    format!("T#{tenant}#POOL#{campaign}")
}
/// One assignment from a pool, by the customer and the shop's own id for
/// it: a retry finds the code it got. The customer id's length comes first,
/// so ids holding `#` never run into each other.
pub fn assignment_pk(tenant: &TenantId, customer: &str, source_id: &str) -> String {
    format!(
        "T#{tenant}#ASSIGN#{}#{customer}#{source_id}",
        customer.len()
    )
}
pub const ASSIGNMENT_SK: &str = "ASSIGNMENT";

/// One budget shard of a campaign: its own partition, like a coupon shard.
pub fn budget_shard_pk(tenant: &TenantId, campaign: &CampaignId, shard: u32) -> String {
    format!("T#{tenant}#CB#{campaign}#{shard}")
}
pub const BUDGET_SHARD_SK: &str = "BUDGET";

/// One counter shard of a `high_demand` coupon. Each has its own partition
/// key, so each gets a partition's write throughput; "CS" never begins a
/// coupon's own key ("C#").
pub fn shard_pk(tenant: &TenantId, code: &CouponCode, shard: u32) -> String {
    format!("T#{tenant}#CS#{code}#{shard}")
}
pub const SHARD_SK: &str = "SHARD";

/// How many uses (and held reservations) of a coupon one customer has: an
/// item in the coupon's own partition, per incarnation of the code (the
/// coupon's `created_at`), so a coupon created later under the same code
/// never inherits counts; a deleted coupon's are cleaned up after it.
pub fn customer_sk(coupon_created_at: DateTime<Utc>, customer_id: &str) -> String {
    format!("{}{customer_id}", customer_sk_prefix(coupon_created_at))
}

/// The sort keys of one coupon's customer counts start with this.
pub fn customer_sk_prefix(coupon_created_at: DateTime<Utc>) -> String {
    format!("CUST#{:013}#", coupon_created_at.timestamp_millis())
}

/// A reservation, found by its id alone.
pub fn reservation_pk(tenant: &TenantId, reservation_id: &str) -> String {
    format!("T#{tenant}#RES#{reservation_id}")
}
pub const RESERVATION_SK: &str = "RESERVATION";
/// GSI1 partition of one coupon's held reservations, sorted by expiry.
pub fn held_gsi1pk(tenant: &TenantId, code: &CouponCode) -> String {
    format!("T#{tenant}#HELD#{code}")
}
pub fn held_gsi1sk(reservation: &crate::coupon::Reservation) -> String {
    format!(
        "{:013}#{}",
        reservation.expires_at.timestamp_millis(),
        reservation.reservation_id
    )
}
/// Reservations stay readable this long after they expire.
pub const RESERVATION_KEPT_SECS: i64 = 7 * 24 * 3600;

/// The answer to one consume with an `Idempotency-Key`, kept for a day.
pub fn idempotency_pk(tenant: &TenantId, key: &str) -> String {
    format!("T#{tenant}#IDEM#{key}")
}
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
pub const IDEMPOTENCY_KEPT_SECS: i64 = 24 * 3600;

/// A job, and one item per finished batch listing its codes.
pub fn job_pk(tenant: &TenantId, job_id: &str) -> String {
    format!("T#{tenant}#JOB#{job_id}")
}
pub const JOB_SK: &str = "JOB";
pub const JOB_BATCH_SK_PREFIX: &str = "BATCH#";
pub fn job_batch_sk(batch: u64) -> String {
    format!("{JOB_BATCH_SK_PREFIX}{batch:07}")
}
/// An import's listed codes, one item per batch (outside the listings' range).
pub fn job_input_sk(batch: u64) -> String {
    format!("INPUT#{batch:07}")
}
/// How long an import's input is kept for its job to read.
pub const JOB_INPUT_KEPT_SECS: i64 = 7 * 24 * 3600;
/// A tenant's count of unfinished jobs (`unfinished`), kept with every job's
/// insert and end, so a tenant's queue stays bounded.
pub fn unfinished_jobs_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#JOBS")
}
pub const UNFINISHED_JOBS_SK: &str = "UNFINISHED";
/// GSI1 partition of the jobs not finished yet, across tenants: the worker's
/// sweep finds stalled jobs here without a Scan. Finished jobs leave it.
pub const ACTIVE_JOBS_GSI1PK: &str = "JOBS#ACTIVE";
pub fn active_job_gsi1sk(tenant: &TenantId, job: &crate::job::Job) -> String {
    format!(
        "{:013}#{tenant}#{}",
        job.created_at.timestamp_millis(),
        job.job_id
    )
}

/// What a deleted coupon left to clean up (its customers' counts, its held
/// reservations): one task item per deleted coupon, written by the delete
/// itself, listed in GSI1 until the worker has worked it off.
pub fn cleanup_pk(
    tenant: &TenantId,
    code: &CouponCode,
    coupon_created_at: DateTime<Utc>,
) -> String {
    format!(
        "T#{tenant}#CLEANUP#{code}#{:013}",
        coupon_created_at.timestamp_millis()
    )
}
pub const CLEANUP_SK: &str = "CLEANUP";
pub const PENDING_CLEANUPS_GSI1PK: &str = "CLEANUPS#PENDING";

/// A tenant's webhooks (sort key: the webhook id) and their count.
pub fn webhooks_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#WEBHOOKS")
}
pub const WEBHOOK_COUNT_SK: &str = "COUNT";
/// One webhook's delivery attempts, by time.
pub fn deliveries_pk(tenant: &TenantId, hook: &crate::webhook::WebhookId) -> String {
    format!("T#{tenant}#WEBHOOK#{}#DELIVERIES", hook.as_str())
}
/// The mark of an event handed on by the events function.
pub fn event_marker_pk(tenant: &TenantId, event_id: &str) -> String {
    format!("T#{tenant}#EVENT#{event_id}")
}
pub const EVENT_MARKER_SK: &str = "EVENT";
/// A tenant's daily figures (`GET /stats`), one item a UTC day.
pub fn stats_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#STATS")
}
pub fn stats_sk(day: chrono::NaiveDate) -> String {
    format!("DAY#{day}")
}

/// The table's TTL attribute (epoch seconds), as `template.yaml` declares it.
pub const EXPIRES_TTL: &str = "expires_ttl";

/// Partitions of one tenant's redemption log per UTC day. The log's sort
/// keys grow with time, so a partition only ever writes at its end and
/// DynamoDB cannot split that heat: one partition per day would cap a
/// tenant's consumes at one partition's ~1,000 write units a second (about
/// 500 transactional rows). An export reads a day's shards side by side.
pub const LOG_SHARDS: u32 = 8;

/// The log shard of a redemption: its id's last hex digit, which is random.
pub fn log_shard(redemption_id: &str) -> u32 {
    redemption_id
        .chars()
        .last()
        .and_then(|c| c.to_digit(16))
        .unwrap_or(0)
        % LOG_SHARDS
}

/// One shard of a tenant's redemptions on one UTC day, sorted by time: an
/// export for a range is a Query per shard and day, never a Scan.
pub fn redemptions_pk(tenant: &TenantId, day: NaiveDate, shard: u32) -> String {
    // A date displays as `%Y-%m-%d`, without a format string to parse.
    format!("T#{tenant}#R#{day}#{shard}")
}
/// `%Y-%m-%dT%H:%M:%S%.3fZ#{redemption_id}`: sorts by time within a day.
pub fn redemption_sk(at: DateTime<Utc>, redemption_id: &str) -> String {
    // The same text as that strftime form, written without parsing one
    // (every consume builds this key).
    let mut sk = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    sk.push('#');
    sk.push_str(redemption_id);
    sk
}
/// Where the log row of `redemption_id`, written at `at`, lives.
pub fn redemption_key(
    tenant: &TenantId,
    at: DateTime<Utc>,
    redemption_id: &str,
) -> (String, String) {
    (
        redemptions_pk(tenant, at.date_naive(), log_shard(redemption_id)),
        redemption_sk(at, redemption_id),
    )
}

/// The log's indexes: a row is in GSI1 by its code, in GSI2 by its
/// customer and in GSI3 by its campaign (when it has them), sorted by its
/// table sort key (time, then id). Like the day partitions, each index
/// partition is split into `LOG_SHARDS` by the row's shard, so a code, a
/// customer id many orders share, or a campaign can take more rows a
/// second than one partition writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogIndex {
    Code(CouponCode),
    Customer(String),
    Campaign(CampaignId),
}

impl LogIndex {
    /// The GSI and its partition key attribute.
    pub fn index(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            LogIndex::Code(_) => (GSI1, GSI1PK, GSI1SK),
            LogIndex::Customer(_) => (GSI2, GSI2PK, GSI2SK),
            LogIndex::Campaign(_) => (GSI3, GSI3PK, GSI3SK),
        }
    }

    /// One shard's partition. The shard, one digit, comes last: no two
    /// customer ids give the same key, whatever characters they hold.
    pub fn pk(&self, tenant: &TenantId, shard: u32) -> String {
        match self {
            LogIndex::Code(code) => format!("T#{tenant}#L#CODE#{code}#{shard}"),
            LogIndex::Customer(customer) => format!("T#{tenant}#L#CUST#{customer}#{shard}"),
            LogIndex::Campaign(campaign) => format!("T#{tenant}#L#CAMP#{campaign}#{shard}"),
        }
    }
}

/// A tenant's count of live generated codes of one shape (length, alphabet).
pub fn live_codes_pk(tenant: &TenantId, shape: &str) -> String {
    format!("T#{tenant}#SHAPE#{shape}")
}
pub const LIVE_CODES_SK: &str = "SHAPE";

/// A tenant's exports: one item per S3 key (a re-run replaces it), listed
/// newest first through GSI1.
pub fn exports_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#EXPORTS")
}
pub fn export_gsi1sk(record: &crate::export::ExportRecord) -> String {
    crate::export::ExportCursor::of(record).to_string()
}

pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}
pub const TENANT_SK: &str = "TENANT";
/// GSI1 partition listing every tenant, so no job needs a Scan to find them.
pub const TENANTS_GSI1PK: &str = "TENANTS";

pub fn token_pk(hash: &str) -> String {
    format!("TOKEN#{hash}")
}
pub const TOKEN_SK: &str = "TOKEN";
pub fn tokens_gsi1pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#TOKENS")
}

/// Creates the table as `template.yaml` declares it. An existing table is fine.
pub async fn create_table(client: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    let index = |name: &str, pk: &str, sk: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .set_key_schema(Some(vec![
                key(pk, KeyType::Hash)?,
                key(sk, KeyType::Range)?,
            ]))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(vec![
            attr(PK)?,
            attr(SK)?,
            attr(GSI1PK)?,
            attr(GSI1SK)?,
            attr(GSI2PK)?,
            attr(GSI2SK)?,
            attr(GSI3PK)?,
            attr(GSI3SK)?,
        ]))
        .set_key_schema(Some(vec![
            key(PK, KeyType::Hash)?,
            key(SK, KeyType::Range)?,
        ]))
        .set_global_secondary_indexes(Some(vec![
            index(GSI1, GSI1PK, GSI1SK)?,
            index(GSI2, GSI2PK, GSI2SK)?,
            index(GSI3, GSI3PK, GSI3SK)?,
        ]))
        // The stream feeds the job worker and the events function.
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()?,
        )
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coupon::Redemption;
    use proptest::prelude::*;

    proptest! {
        /// The log's keys are the text the strftime forms they replaced
        /// gave, for any instant of the years a coupon can carry.
        #[test]
        fn log_keys_keep_their_strftime_text(
            secs in 0i64..253_402_300_800,
            nanos in 0u32..1_000_000_000,
            shard in 0u32..LOG_SHARDS,
        ) {
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            let tenant = TenantId::parse("t").unwrap();
            prop_assert_eq!(
                redemptions_pk(&tenant, at.date_naive(), shard),
                format!("T#{tenant}#R#{}#{shard}", at.date_naive().format("%Y-%m-%d"))
            );
            prop_assert_eq!(
                redemption_sk(at, "id"),
                format!("{}#id", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
            );
        }
    }

    #[test]
    fn redemption_ids_spread_over_every_log_shard() {
        let now = chrono::Utc::now();
        let mut counts = [0u32; LOG_SHARDS as usize];
        for _ in 0..8_000 {
            counts[log_shard(&Redemption::new_id(now)) as usize] += 1;
        }
        // 1,000 expected each; a fair split stays far inside these bounds.
        assert!(
            counts.iter().all(|c| (800..1_200).contains(c)),
            "{counts:?}"
        );
    }
}
