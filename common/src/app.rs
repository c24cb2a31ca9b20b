//! What every function builds once at cold start and shares across requests.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

use crate::auth::Authenticator;
use crate::cache::TtlCache;
use crate::code::CouponCode;
use crate::config::{Config, MissingSetting};
use crate::coupon::Coupon;
use crate::keyspace::KeyspacePolicy;
use crate::limits::{GuessingPolicy, Limits};
use crate::store::DynamoStore;
use crate::tenant::TenantId;

pub struct App {
    pub store: DynamoStore,
    pub auth: Authenticator,
    pub limits: Limits,
    pub keyspace: KeyspacePolicy,
    /// Coupons this instance read or consumed in the last few seconds.
    pub recent_coupons: TtlCache<(TenantId, CouponCode), Coupon>,
}

/// How long consume trusts a coupon it read: only the response's
/// `availability_count` can be that much out of date; every rule is checked
/// by the consume transaction itself.
pub const RECENT_COUPON_TTL: Duration = Duration::from_secs(10);

impl App {
    /// Rate-limit buckets live in the same table as everything else.
    pub fn new(store: DynamoStore, guessing: GuessingPolicy, keyspace: KeyspacePolicy) -> App {
        App {
            limits: Limits::new(store.clone(), guessing),
            store,
            auth: Authenticator::default(),
            keyspace,
            recent_coupons: TtlCache::new(RECENT_COUPON_TTL, 10_000),
        }
    }

    /// Settings and SDK config from the environment.
    pub async fn from_env() -> Result<App, MissingSetting> {
        App::from_sdk(&sdk_config().await)
    }

    /// Clients built once from the SDK config (see [`sdk_config`]).
    pub fn from_sdk(sdk: &SdkConfig) -> Result<App, MissingSetting> {
        let config = Config::from_env()?;
        let client = dynamodb_client(sdk);
        Ok(App::new(
            DynamoStore::new(client, config.table_name),
            GuessingPolicy::from_env(),
            KeyspacePolicy::from_env(),
        ))
    }
}

/// SDK config from the environment (`AWS_ENDPOINT_URL` points it at the
/// local emulator), with bounded timeouts.
pub async fn sdk_config() -> SdkConfig {
    // Lambda sets AWS_REGION and passes the role's credentials in the
    // environment. The SDK's default chains would settle on them too (they
    // ask the environment first), but building the chains costs every cold
    // start an instance-metadata client for the region and, for credentials,
    // the profile, web identity (with an STS client), container and
    // instance-metadata providers: about 0.2 ms (BENCHMARKS.md, cold start).
    let mut loader = sdk_config_loader();
    if let Some(region) = env_value("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    if env_value("AWS_ACCESS_KEY_ID").is_some() && env_value("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The settings [`sdk_config`] loads with, before it loads; the handler
/// benchmark replaces the HTTP client with its in-process one and adds fixed
/// credentials.
pub fn sdk_config_loader() -> ConfigLoader {
    sdk_defaults().timeout_config(sdk_timeouts())
}

/// The SDK's defaults with [`https_client`]: what the operator CLI and the
/// integration tests load (with the SDK's own timeouts, not the functions').
pub fn sdk_defaults() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// The SDK's own HTTPS client (hyper, rustls, the system's root
/// certificates) with ring as rustls' crypto instead of the SDK default's
/// aws-lc-rs: about 2 MB less in every binary (BENCHMARKS.md, cold start and
/// size). What that gives up is aws-lc's post-quantum key exchange
/// (X25519MLKEM768) on the TLS connections to AWS endpoints; ring offers
/// X25519 and the NIST curves.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The DynamoDB client every function uses. Stalled-stream protection is
/// off on it because it can never act there: it reports a stream only after
/// its 20 s grace period, and every DynamoDB attempt, reading the response
/// body included, ends at 2 s (see [`sdk_timeouts`]). What it would cost is
/// an interceptor and a throughput-watching body on every call, about 2 µs
/// of the 30 µs of CPU a call takes (BENCHMARKS.md, handler overhead). The
/// S3 client keeps it: its attempts may last 120 s.
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Every client's TCP and TLS connect timeout. One value on purpose: the
/// SDK's HTTP client keeps one connector (its connection pool and its own
/// store of the root certificates) per distinct set of connector settings,
/// so clients that agree on them share one, built by the first request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A request must answer well inside API Gateway's 30 s and the function's
/// timeout: a hung DynamoDB call becomes a 503 the client can retry, not a
/// Lambda timeout. Each attempt is bounded, and so are the SDK's retries.
fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build()
}
