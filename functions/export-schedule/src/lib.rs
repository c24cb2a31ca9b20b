//! The scheduled export (EventBridge, daily by default): for every tenant,
//! the previous UTC day's redemptions to `exports/{tenant}/{YYYY-MM-DD}.xlsx`.
//!
//! Tenants come from the tenants index (a Query, never a Scan). A tenant
//! without redemptions that day gets a workbook with the header row only, so
//! "no redemptions" is a fact on file rather than a missing file. A re-run
//! for the same day rewrites the same keys with the same rows. Any failure
//! fails the invocation, so EventBridge retries it; what was written is
//! written whole, and rewriting it is harmless.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use common::store::TenantStore;
use exports::{ExportsApp, tenant_prefix};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// The day a run exports: the UTC day before the schedule fired.
pub fn day_before(fired_at: DateTime<Utc>) -> NaiveDate {
    (fired_at - Duration::days(1)).date_naive()
}

pub async fn handle(
    state: &ExportsApp,
    event: LambdaEvent<EventBridgeEvent<Value>>,
) -> Result<Value, Error> {
    let day = day_before(event.payload.time.unwrap_or_else(Utc::now));
    let from = day.and_time(NaiveTime::MIN).and_utc();
    let to = from + Duration::days(1) - Duration::milliseconds(1);
    let mut exported = Vec::new();
    for tenant in state.app.store.list_tenants().await? {
        let key = format!("{}{day}.xlsx", tenant_prefix(&tenant.id));
        let record = state
            .exporter
            .export(&state.app.store, &tenant.id, from, to, key)
            .await
            .map_err(|e| format!("export for tenant {} failed: {e}", tenant.id))?;
        tracing::info!(tenant = %tenant.id, key = %record.key, rows = record.rows, "daily export written");
        exported
            .push(json!({"tenant": tenant.id.as_str(), "key": record.key, "rows": record.rows}));
    }
    Ok(json!({"day": day.to_string(), "exports": exported}))
}
