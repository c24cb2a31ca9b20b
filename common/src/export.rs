//! A written export of the redemption log: one `.xlsx` object in S3.

use chrono::{DateTime, Utc};

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
