//! What every function builds once at cold start and shares across requests.

use crate::auth::Authenticator;
use crate::config::{Config, MissingSetting};
use crate::store::DynamoStore;

pub struct App {
    pub store: DynamoStore,
    pub auth: Authenticator,
}

impl App {
    pub fn new(store: DynamoStore) -> App {
        App {
            store,
            auth: Authenticator::default(),
        }
    }

    /// SDK config from the environment (`AWS_ENDPOINT_URL` points it at the
    /// local emulator), clients built once.
    pub async fn from_env() -> Result<App, MissingSetting> {
        let config = Config::from_env()?;
        let sdk = aws_config::load_from_env().await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        Ok(App::new(DynamoStore::new(client, config.table_name)))
    }
}
