//! Settings from the environment, read once at cold start.

#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
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
        Ok(Config { table_name })
    }
}

/// An environment variable's value; unset and empty are the same.
pub fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
