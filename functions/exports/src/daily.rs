//! The daily export of one tenant: the previous UTC day's redemptions to
//! `exports/{tenant}/{YYYY-MM-DD}.xlsx`. `export-schedule` names the tenant
//! days, one queue message each; `export-worker` exports them one by one.
//!
//! A tenant without redemptions that day gets a workbook with the header
//! row only, so "no redemptions" is a fact on file rather than a missing
//! file. Exporting the same day again rewrites the same key with the same
//! rows, so a message delivered twice (SQS delivers at least once) or
//! retried after a failure is harmless.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use common::ApiError;
use common::export::ExportRecord;
use common::invalid::Invalid;
use common::tenant::TenantId;
use serde::{Deserialize, Serialize};

use crate::{ExportsApp, tenant_prefix};

/// The day a run exports: the UTC day before the schedule fired.
pub fn day_before(fired_at: DateTime<Utc>) -> NaiveDate {
    (fired_at - Duration::days(1)).date_naive()
}

/// One tenant's day to export: the body of a daily export message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDay {
    pub tenant: TenantId,
    pub day: NaiveDate,
}

/// The message as JSON: `{"tenant":"acme","day":"2026-12-01"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Message<'a> {
    tenant: &'a str,
    day: NaiveDate,
}

impl TenantDay {
    pub fn to_message(&self) -> String {
        serde_json::to_string(&Message {
            tenant: self.tenant.as_str(),
            day: self.day,
        })
        .expect("a tenant id and a date serialise")
    }

    pub fn parse_message(body: &str) -> Result<TenantDay, Invalid> {
        let message: Message<'_> = serde_json::from_str(body)
            .map_err(|e| Invalid(format!("not a daily export message: {e}")))?;
        Ok(TenantDay {
            tenant: TenantId::parse(message.tenant)?,
            day: message.day,
        })
    }

    /// Where the day's workbook goes.
    pub fn key(&self) -> String {
        format!("{}{}.xlsx", tenant_prefix(&self.tenant), self.day)
    }
}

/// Writes the tenant's day to its key and records the export.
pub async fn export_day(state: &ExportsApp, job: &TenantDay) -> Result<ExportRecord, ApiError> {
    let from = job.day.and_time(NaiveTime::MIN).and_utc();
    let to = from + Duration::days(1) - Duration::milliseconds(1);
    state
        .exporter
        .export(&state.app.store, &job.tenant, from, to, job.key())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_and_bad_ones_are_refused() {
        let day = TenantDay {
            tenant: TenantId::parse("acme-1").unwrap(),
            day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        };
        let body = day.to_message();
        assert_eq!(body, r#"{"tenant":"acme-1","day":"2026-12-01"}"#);
        assert_eq!(TenantDay::parse_message(&body).unwrap(), day);
        assert_eq!(day.key(), "exports/acme-1/2026-12-01.xlsx");
        for bad in [
            "",
            "{}",
            r#"{"tenant":"ACME#x","day":"2026-12-01"}"#,
            r#"{"tenant":"acme","day":"2026-13-01"}"#,
            r#"{"tenant":"acme","day":"2026-12-01","extra":1}"#,
        ] {
            assert!(TenantDay::parse_message(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_day_is_the_utc_day_before_the_schedule_fired() {
        let fired = DateTime::parse_from_rfc3339("2026-12-02T00:15:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            day_before(fired),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
        );
    }
}
