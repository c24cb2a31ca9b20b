//! Files in S3 with their download links: redemption exports and a
//! campaign's codes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dates;
use crate::export::ExportRecord;

/// An export as clients see it, with a download link fresh on every answer.
#[derive(Serialize)]
pub struct ExportView<'a> {
    created_at: String,
    expires_at: String,
    from: String,
    key: &'a str,
    object: &'static str,
    rows: u64,
    to: String,
    url: String,
}

impl<'a> ExportView<'a> {
    pub fn of(record: &'a ExportRecord, url: String, expires_at: DateTime<Utc>) -> ExportView<'a> {
        ExportView {
            created_at: dates::format(record.created_at),
            expires_at: dates::format(expires_at),
            from: dates::format(record.from),
            key: &record.key,
            object: "export",
            rows: record.rows,
            to: dates::format(record.to),
            url,
        }
    }
}

/// A campaign's codes written to S3 as CSV, with a download link.
#[derive(Serialize)]
pub struct CodesExportView<'a> {
    pub campaign_id: &'a str,
    /// Codes in the file (its data rows).
    pub codes: u64,
    pub created_at: String,
    pub expires_at: String,
    pub key: &'a str,
    pub object: &'static str,
    pub url: String,
}
