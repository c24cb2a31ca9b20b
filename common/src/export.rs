//! A written export of the redemption log: one `.xlsx` object in S3.

use chrono::{DateTime, Utc};

use crate::invalid::Invalid;
use crate::tenant::TenantId;

#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    /// The S3 key, always under `exports/{tenant}/`.
    pub key: String,
    /// Redemption-log rows in the workbook (header rows not counted).
    pub rows: u64,
    /// The time range exported, both ends included.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Every key of a tenant's exports starts with this.
pub fn tenant_prefix(tenant: &TenantId) -> String {
    format!("exports/{tenant}/")
}

/// Whether `key` is one of the tenant's: a plain name under its prefix, with
/// no `..` or empty segment that a client or proxy could resolve to another
/// tenant's object.
pub fn is_own_key(tenant: &TenantId, key: &str) -> bool {
    key.strip_prefix(&tenant_prefix(tenant))
        .is_some_and(|name| {
            !name.is_empty() && name.split('/').all(|s| !matches!(s, "" | "." | ".."))
        })
}

/// Where the next page of a tenant's exports (newest first) starts: after
/// the export created at `created_at` under `key`. As text, the cursor is
/// `{created_at in epoch ms, 13 digits}#{key}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCursor {
    pub created_at_ms: i64,
    pub key: String,
}

/// Keys are at most this long (S3's limit).
const MAX_KEY_BYTES: usize = 1_024;

impl ExportCursor {
    pub fn of(record: &ExportRecord) -> ExportCursor {
        ExportCursor {
            created_at_ms: record.created_at.timestamp_millis(),
            key: record.key.clone(),
        }
    }

    /// A cursor this API gave the tenant; anything else is a 422.
    pub fn parse(text: &str, tenant: &TenantId) -> Result<ExportCursor, Invalid> {
        let invalid = || Invalid("cursor is not one this API gave".into());
        let (time, key) = text.split_once('#').ok_or_else(invalid)?;
        if time.len() != 13 || !time.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        if key.len() > MAX_KEY_BYTES || !is_own_key(tenant, key) {
            return Err(invalid());
        }
        Ok(ExportCursor {
            created_at_ms: time.parse().map_err(|_| invalid())?,
            key: key.to_owned(),
        })
    }
}

impl std::fmt::Display for ExportCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:013}#{}", self.created_at_ms, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_stays_in_its_tenant() {
        let tenant = TenantId::parse("acme").unwrap();
        let cursor = ExportCursor {
            created_at_ms: 1_795_464_000_000,
            key: "exports/acme/2026-11-23.xlsx".into(),
        };
        assert_eq!(
            ExportCursor::parse(&cursor.to_string(), &tenant).unwrap(),
            cursor
        );
        for bad in [
            "x#",
            "x%23",
            "1795464000000#",
            "1795464000000#exports/other/a.xlsx",
            "1795464000000#exports/acme/../other/a.xlsx",
            "179546400000#exports/acme/a.xlsx",
            "+795464000000#exports/acme/a.xlsx",
        ] {
            assert!(ExportCursor::parse(bad, &tenant).is_err(), "{bad:?}");
        }
    }
}
