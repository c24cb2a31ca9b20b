//! Settings from the environment, read once at cold start.

#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} must be set")]
pub struct MissingSetting(pub &'static str);

impl Config {
    pub fn from_env() -> Result<Config, MissingSetting> {
        let table_name = std::env::var("TABLE_NAME")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(MissingSetting("TABLE_NAME"))?;
        Ok(Config { table_name })
    }
}
