//! What every function builds once at cold start and shares across requests.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider, SharedHttpClient,
    StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_types::SdkConfig;
use aws_types::endpoint_config::AccountIdEndpointMode;

use crate::auth::Authenticator;
use crate::cache::TtlCache;
use crate::code::CouponCode;
use crate::config::{Config, MAX_UNFINISHED_JOBS, RECENT_COUPON_TTL, SettingError, env_value};
use crate::coupon::Coupon;
use crate::dates::Clock;
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
    /// The time handlers go by.
    pub clock: Clock,
    /// Bulk jobs a tenant may have unfinished at once.
    pub max_unfinished_jobs: u32,
}

impl App {
    /// Rate-limit buckets live in the same table as everything else.
    pub fn new(store: DynamoStore, guessing: GuessingPolicy, keyspace: KeyspacePolicy) -> App {
        App {
            limits: Limits::new(store.clone(), guessing),
            store,
            auth: Authenticator::default(),
            keyspace,
            recent_coupons: TtlCache::new(RECENT_COUPON_TTL, 10_000),
            clock: Clock::default(),
            max_unfinished_jobs: MAX_UNFINISHED_JOBS,
        }
    }

    /// How long a coupon read stays in `recent_coupons` (0: not at all).
    pub fn with_recent_coupon_ttl(mut self, ttl: Duration) -> App {
        self.recent_coupons = TtlCache::new(ttl, 10_000);
        self
    }

    /// Settings and SDK config from the environment.
    pub fn from_env() -> Result<App, SettingError> {
        App::from_sdk(&sdk_config()?)
    }

    /// Clients built once from the SDK config (see [`sdk_config`]).
    pub fn from_sdk(sdk: &SdkConfig) -> Result<App, SettingError> {
        let config = Config::from_env()?;
        let client = dynamodb_client(sdk);
        let app = App::new(
            DynamoStore::new(client, config.table_name),
            GuessingPolicy::from_env(),
            KeyspacePolicy::from_env(),
        );
        let mut app = app.with_recent_coupon_ttl(config.recent_coupon_ttl);
        app.max_unfinished_jobs = config.max_unfinished_jobs;
        Ok(app)
    }
}

/// The SDK settings every function's clients share, from the environment
/// Lambda gives a function: `AWS_REGION`, the role's credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
/// optionally `AWS_ENDPOINT_URL` (the local emulator) and `TLS_ROOTS` (see
/// [`TlsRoots`]).
///
/// Built here rather than by aws-config's loader: that one's default chains
/// would settle on the same environment values, but building them costs
/// every cold start an instance-metadata client and the profile,
/// web-identity, container and instance-metadata providers, and aws-config
/// with its STS, SSO and profile code is about 1.3 MB of every binary
/// (BENCHMARKS.md, cold start and size).
pub fn sdk_config() -> Result<SdkConfig, SettingError> {
    let roots = TlsRoots::parse(env_value("TLS_ROOTS").as_deref())?;
    sdk_config_from(env_value, https_client(roots))
}

/// [`sdk_config`] with its settings looked up by `env` and the given HTTP
/// client (the handler benchmark's answers in-process).
pub fn sdk_config_from(
    env: impl Fn(&str) -> Option<String>,
    http_client: SharedHttpClient,
) -> Result<SdkConfig, SettingError> {
    let required = |name: &'static str| env(name).ok_or(SettingError::Missing(name));
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        env("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(required("AWS_REGION")?))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client)
        .retry_config(RetryConfig::standard())
        .timeout_config(sdk_timeouts());
    if let Some(url) = env("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    Ok(config.build())
}

/// The certificates the functions' HTTPS client trusts (`TLS_ROOTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsRoots {
    /// `amazon`, the default: the five Amazon Trust Services roots, compiled
    /// in. Every AWS service endpoint's certificate chains to one of them,
    /// and ATS recommends all five for a custom trust store. Reading and
    /// parsing the system's roots instead (about 140 of them) was most of
    /// a function's cold start beyond a hello-world's (BENCHMARKS.md), and
    /// no other root can vouch for an AWS endpoint, so none is trusted.
    Amazon,
    /// `system`: the system's store (`SSL_CERT_FILE` is honoured), for
    /// endpoints whose certificates come from another CA, such as a
    /// TLS-inspecting proxy's or another partition's.
    System,
}

/// The PEM file behind [`TlsRoots::Amazon`].
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

impl TlsRoots {
    pub fn parse(value: Option<&str>) -> Result<TlsRoots, SettingError> {
        match value {
            None | Some("amazon") => Ok(TlsRoots::Amazon),
            Some("system") => Ok(TlsRoots::System),
            Some(other) => Err(SettingError::Invalid {
                name: "TLS_ROOTS",
                value: other.to_owned(),
                expected: "amazon or system",
            }),
        }
    }

    fn trust_store(self) -> TrustStore {
        match self {
            TlsRoots::Amazon => {
                TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS)
            }
            TlsRoots::System => TrustStore::default(),
        }
    }
}

/// The SDK's own HTTPS client (hyper, rustls) trusting `roots`, with ring as
/// rustls' crypto instead of the SDK default's aws-lc-rs: about 2 MB less in
/// every binary (BENCHMARKS.md, cold start and size). What that gives up is
/// aws-lc's post-quantum key exchange (X25519MLKEM768) on the TLS
/// connections to AWS endpoints; ring offers X25519 and the NIST curves.
pub fn https_client(roots: TlsRoots) -> SharedHttpClient {
    let tls = TlsContext::builder()
        .with_trust_store(roots.trust_store())
        .build()
        .expect("a TLS context without extra server names always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}

/// The DynamoDB client every function uses. Stalled-stream protection is
/// off on it because it can never act there: it reports a stream only after
/// its 20 s grace period, and every DynamoDB attempt, reading the response
/// body included, ends at 2 s (see [`sdk_timeouts`]). What it would cost is
/// an interceptor and a throughput-watching body on every call, about 2 µs
/// of the 30 µs of CPU a call takes (BENCHMARKS.md, handler overhead). The
/// S3 client keeps it: its attempts may last 120 s.
///
/// Account-based endpoints are off too: the SDK uses one only when the
/// credentials carry an account ID, which Lambda's never do (see
/// [`sdk_config_from`]), so the regional endpoint is chosen either way; off,
/// the endpoint rules skip that branch on every call (BENCHMARKS.md,
/// handler overhead: 3 µs off a consume's two calls).
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .account_id_endpoint_mode(AccountIdEndpointMode::Disabled)
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::ProvideCredentials;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    use super::*;

    /// SHA-256 of each root's certificate, as https://www.amazontrust.com/repository/ lists them.
    const ATS_ROOT_FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services Root CA - G2
    ];

    #[test]
    fn the_compiled_in_roots_are_exactly_the_five_amazon_trust_services_roots() {
        let fingerprints: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS)
            .map(|der| hex::encode(Sha256::digest(der.expect("a PEM certificate"))))
            .collect();
        assert_eq!(fingerprints, ATS_ROOT_FINGERPRINTS);
    }

    #[tokio::test]
    async fn a_client_builds_with_either_root_store() {
        // Building a client validates its HTTPS connector, which parses the
        // roots (the SDK panics on one it cannot parse).
        for roots in [TlsRoots::Amazon, TlsRoots::System] {
            let sdk = sdk_config_from(lambda_environment(&[]), https_client(roots)).unwrap();
            dynamodb_client(&sdk);
        }
    }

    #[test]
    fn tls_roots_default_to_amazon_and_refuse_an_unknown_value() {
        assert_eq!(TlsRoots::parse(None).unwrap(), TlsRoots::Amazon);
        assert_eq!(TlsRoots::parse(Some("amazon")).unwrap(), TlsRoots::Amazon);
        assert_eq!(TlsRoots::parse(Some("system")).unwrap(), TlsRoots::System);
        let error = TlsRoots::parse(Some("Amazon")).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"environment variable TLS_ROOTS is "Amazon"; expected amazon or system"#
        );
    }

    fn lambda_environment(
        overrides: &[(&str, Option<&str>)],
    ) -> impl Fn(&str) -> Option<String> + use<> {
        let mut env: HashMap<String, String> = [
            ("AWS_REGION", "eu-central-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE00"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (name, value) in overrides {
            match value {
                Some(value) => env.insert((*name).to_owned(), (*value).to_owned()),
                None => env.remove(*name),
            };
        }
        move |name| env.get(name).cloned()
    }

    async fn credentials_of(sdk: &SdkConfig) -> Credentials {
        let provider = sdk.credentials_provider().expect("a credentials provider");
        provider.provide_credentials().await.expect("credentials")
    }

    #[tokio::test]
    async fn the_sdk_config_comes_from_the_environment_lambda_sets() {
        let sdk = sdk_config_from(lambda_environment(&[]), https_client(TlsRoots::Amazon)).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-central-1"));
        assert_eq!(sdk.endpoint_url(), None);
        let credentials = credentials_of(&sdk).await;
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLEEXAMPLE00");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
        assert_eq!(sdk.retry_config().map(|r| r.max_attempts()), Some(3));
        assert_eq!(
            sdk.timeout_config().and_then(|t| t.connect_timeout()),
            Some(CONNECT_TIMEOUT)
        );

        let local = lambda_environment(&[
            ("AWS_ENDPOINT_URL", Some("http://127.0.0.1:5000")),
            ("AWS_SESSION_TOKEN", None),
        ]);
        let sdk = sdk_config_from(local, https_client(TlsRoots::Amazon)).unwrap();
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        let credentials = credentials_of(&sdk).await;
        assert_eq!(credentials.session_token(), None);
    }

    #[test]
    fn a_function_without_region_or_credentials_does_not_start() {
        for name in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let env = lambda_environment(&[(name, None)]);
            match sdk_config_from(env, https_client(TlsRoots::Amazon)) {
                Err(SettingError::Missing(missing)) => assert_eq!(missing, name),
                other => panic!("{name} unset: {other:?}"),
            }
        }
    }
}
