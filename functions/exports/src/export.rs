//! Writing an export: the tenant's redemptions for a time range, page by
//! page from DynamoDB into a workbook, then one `PutObject` to S3.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use common::ApiError;
use common::config::{SettingError, env_value};
use common::export::{ExportRecord, is_own_key};
use common::store::{DynamoStore, ExportStore, RedemptionLogStore};
use common::tenant::TenantId;

use crate::workbook::{MAX_DATA_ROWS_PER_SHEET, RedemptionWorkbook};

const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(900);
/// S3's limit for a presigned link: seven days.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(604_800);
pub const DEFAULT_MAX_RANGE_DAYS: i64 = 31;

/// Where and how exports are written, built once per cold start.
pub struct Exporter {
    s3: aws_sdk_s3::Client,
    bucket: String,
    pub link_ttl: Duration,
    pub max_range_days: i64,
    /// `MAX_DATA_ROWS_PER_SHEET`, smaller only in tests of the roll-over.
    pub rows_per_sheet: u32,
}

fn setting(
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, SettingError> {
    match env_value(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .ok()
            .filter(|v| range.contains(v))
            .ok_or(SettingError::Invalid {
                name,
                value: text,
                expected: "a whole number in range",
            }),
    }
}

impl Exporter {
    /// `EXPORT_BUCKET`, `EXPORT_LINK_TTL` (seconds, default 900, at most
    /// 604800) and `EXPORT_MAX_DAYS` (default 31).
    pub fn from_env(sdk: &aws_types::SdkConfig) -> Result<Exporter, SettingError> {
        let bucket = env_value("EXPORT_BUCKET").ok_or(SettingError::Missing("EXPORT_BUCKET"))?;
        let ttl = setting(
            "EXPORT_LINK_TTL",
            DEFAULT_LINK_TTL.as_secs(),
            1..=MAX_LINK_TTL.as_secs(),
        )?;
        let days = setting("EXPORT_MAX_DAYS", DEFAULT_MAX_RANGE_DAYS as u64, 1..=3_660)?;
        Ok(Exporter {
            s3: s3_client(sdk),
            bucket,
            link_ttl: Duration::from_secs(ttl),
            max_range_days: days as i64,
            rows_per_sheet: MAX_DATA_ROWS_PER_SHEET,
        })
    }

    pub fn with(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Exporter {
        Exporter {
            s3,
            bucket: bucket.into(),
            link_ttl: DEFAULT_LINK_TTL,
            max_range_days: DEFAULT_MAX_RANGE_DAYS,
            rows_per_sheet: MAX_DATA_ROWS_PER_SHEET,
        }
    }

    /// Writes the tenant's redemptions from `from` to `to` (both included)
    /// to `key` and records the export. The object appears whole or not at
    /// all: a single `PutObject` of the finished file, retried by the SDK.
    pub async fn export(
        &self,
        store: &DynamoStore,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        key: String,
    ) -> Result<ExportRecord, ApiError> {
        let file = TempFile::new();
        let rows = self
            .write_workbook(store, tenant, from, to, &file.0)
            .await?;
        let body = ByteStream::from_path(&file.0)
            .await
            .map_err(|e| unavailable("reading the workbook", e))?;
        self.upload(&key, XLSX_CONTENT_TYPE, body).await?;
        let record = ExportRecord {
            key,
            rows,
            from,
            to,
            created_at: common::dates::now(),
        };
        store.put_export(tenant, &record).await?;
        Ok(record)
    }

    /// Puts a finished file at `key`: whole, or not at all.
    pub async fn upload(
        &self,
        key: &str,
        content_type: &str,
        body: ByteStream,
    ) -> Result<(), ApiError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                unavailable(
                    "uploading the export",
                    aws_sdk_s3::error::DisplayErrorContext(e),
                )
            })?;
        Ok(())
    }

    async fn write_workbook(
        &self,
        store: &DynamoStore,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        path: &std::path::Path,
    ) -> Result<u64, ApiError> {
        let xlsx = |e| unavailable("writing the workbook", e);
        let mut workbook = RedemptionWorkbook::new(self.rows_per_sheet).map_err(xlsx)?;
        let days = from
            .date_naive()
            .iter_days()
            .take_while(|day| *day <= to.date_naive());
        for day in days {
            let mut cursor = None;
            loop {
                let (rows, next) = store.redemption_page(tenant, day, from, to, cursor).await?;
                for row in &rows {
                    workbook.push(row).map_err(xlsx)?;
                }
                match next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        workbook.save(path).map_err(xlsx)
    }

    /// A presigned GET link for one of the tenant's keys, and when it expires.
    pub async fn link(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        // Only the tenant's own keys are ever signed.
        if !is_own_key(tenant, key) {
            return Err(ApiError::NotFound("no such export".into()));
        }
        let config =
            PresigningConfig::expires_in(self.link_ttl).map_err(|e| unavailable("signing", e))?;
        let expires_at = common::dates::now() + self.link_ttl;
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| unavailable("signing", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok((request.uri().to_owned(), expires_at))
    }
}

/// S3 with path-style addressing against a local endpoint (the emulator
/// serves every bucket on one port), and timeouts long enough for a large
/// upload: DynamoDB's short ones would cut a 40 MB `PutObject` off.
pub fn s3_client(sdk: &aws_types::SdkConfig) -> aws_sdk_s3::Client {
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(common::app::CONNECT_TIMEOUT)
        .operation_attempt_timeout(Duration::from_secs(120))
        .operation_timeout(Duration::from_secs(300))
        .build();
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .timeout_config(timeouts)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "{what} failed");
    ApiError::Unavailable(format!("{what} failed; nothing was exported, retry later"))
}

/// A workbook file in the function's temporary directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new() -> TempFile {
        TempFile(std::env::temp_dir().join(format!("export-{}.xlsx", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn s3_and_dynamodb_clients_share_one_https_connector() {
        // The SDK's HTTP client keys its connectors (each with its own root
        // certificate store) by the connect and read timeouts.
        let env = |name: &str| match name {
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
            _ => None,
        };
        let https = common::app::https_client(common::app::TlsRoots::Amazon);
        let sdk = common::app::sdk_config_from(env, https).unwrap();
        let connector = |t: Option<&aws_sdk_s3::config::timeout::TimeoutConfig>| {
            t.map(|t| (t.connect_timeout(), t.read_timeout()))
        };
        let s3 = s3_client(&sdk);
        let dynamodb = common::app::dynamodb_client(&sdk);
        assert_eq!(
            connector(s3.config().timeout_config()),
            connector(dynamodb.config().timeout_config())
        );
        assert_eq!(
            connector(s3.config().timeout_config()),
            Some((Some(common::app::CONNECT_TIMEOUT), None))
        );
    }

    #[test]
    fn link_ttl_is_checked_at_start() {
        // One test owns these variables: tests in one binary share the environment.
        let check = |value: &str| {
            // SAFETY: no other test in this crate reads or writes the environment.
            unsafe { std::env::set_var("EXPORT_LINK_TTL", value) };
            setting("EXPORT_LINK_TTL", 900, 1..=MAX_LINK_TTL.as_secs())
        };
        assert_eq!(check("3600").unwrap(), 3600);
        assert!(check("604801").is_err());
        assert!(check("0").is_err());
        assert!(check("soon").is_err());
        unsafe { std::env::remove_var("EXPORT_LINK_TTL") };
        assert_eq!(
            setting("EXPORT_LINK_TTL", 900, 1..=MAX_LINK_TTL.as_secs()).unwrap(),
            900
        );
    }
}
