//! Settings from the environment, read once at cold start.

use std::time::Duration;

/// How long consume trusts a coupon it read, unless `RECENT_COUPON_TTL_MS`
/// says otherwise: only the response's `availability_count` can be that
/// much out of date; every rule is checked by the consume transaction itself.
pub const RECENT_COUPON_TTL: Duration = Duration::from_secs(10);

/// Bulk jobs a tenant may have unfinished at once, unless
/// `MAX_UNFINISHED_JOBS` says otherwise: one tenant's queue stays short.
pub const MAX_UNFINISHED_JOBS: u32 = 3;

#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// How long consume trusts a coupon read moments ago
    /// (`RECENT_COUPON_TTL_MS`, default [`RECENT_COUPON_TTL`]).
    pub recent_coupon_ttl: std::time::Duration,
    /// `MAX_UNFINISHED_JOBS`, default [`MAX_UNFINISHED_JOBS`].
    pub max_unfinished_jobs: u32,
}

/// A setting a function cannot start without, or one it cannot read.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    #[error("environment variable {name} is {value:?}; expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Config {
    pub fn from_env() -> Result<Config, SettingError> {
        let table_name = env_value("TABLE_NAME").ok_or(SettingError::Missing("TABLE_NAME"))?;
        let recent_coupon_ttl = number("RECENT_COUPON_TTL_MS", "milliseconds, 0 or more")?
            .map_or(RECENT_COUPON_TTL, Duration::from_millis);
        let max_unfinished_jobs =
            match number("MAX_UNFINISHED_JOBS", "a whole number, 1 or more")? {
                None => MAX_UNFINISHED_JOBS,
                Some(max) => u32::try_from(max).ok().filter(|max| *max >= 1).ok_or(
                    SettingError::Invalid {
                        name: "MAX_UNFINISHED_JOBS",
                        value: max.to_string(),
                        expected: "a whole number from 1 to 4294967295",
                    },
                )?,
            };
        Ok(Config {
            table_name,
            recent_coupon_ttl,
            max_unfinished_jobs,
        })
    }
}

/// A whole-number setting, if it is set.
fn number(name: &'static str, expected: &'static str) -> Result<Option<u64>, SettingError> {
    env_value(name)
        .map(|value| {
            value.parse().map_err(|_| SettingError::Invalid {
                name,
                value,
                expected,
            })
        })
        .transpose()
}

/// An environment variable's value; unset and empty are the same.
pub fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
