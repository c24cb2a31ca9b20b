//! Abuse protection around every authenticated request: the tenant's token
//! bucket, and budgets for lookups of codes that do not exist, so that
//! guessing codes gets the guesser cut off, not the shop.

use std::time::Duration;

use lambda_http::http::{HeaderName, HeaderValue, Method, Response};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};

use serde_json::Value;

use crate::auth::Caller;
use crate::config::env_value;
use crate::coupon::MAX_CUSTOMER_ID_CHARS;
use crate::error::ApiError;
use crate::limiter::{self, BucketStore, Decision, Hints, Rule, whole_seconds};
use crate::offer::parse_label;
use crate::request;
use crate::routes::{Matched, Route};
use crate::store::DynamoStore;
use crate::tenant::TenantId;

/// One bucket item takes about 1,000 writes a second (one partition); a
/// tenant allowed more than this many requests a second is spread over
/// several bucket items, each with its share of the rate and burst.
pub const MAX_RATE_PER_BUCKET: u32 = 500;

/// The guessing defence's budgets for lookups of codes that do not exist
/// ("misses"). Misses count per identity: the end customer a request names
/// (`customer_id`), else the client address. An identity that spends its
/// budget has its code lookups refused for the cool-down; other identities
/// keep working. The tenant's budget counts all its identities' misses
/// together: while it is spent, the tenant is under guessing pressure, and
/// each identity's misses also draw on a much smaller budget.
#[derive(Debug, Clone, Copy)]
pub struct GuessingPolicy {
    /// Misses of all a tenant's identities before it is under pressure.
    pub per_tenant: Rule,
    /// Misses one identity may make.
    pub per_identity: Rule,
    /// Misses one identity may make while its tenant is under pressure.
    pub under_pressure: Rule,
    /// How long an identity's code lookups stay refused once it spent a budget.
    pub cooldown: Duration,
}

impl Default for GuessingPolicy {
    fn default() -> Self {
        GuessingPolicy {
            per_tenant: Rule::every(Duration::from_secs(6), 100),
            per_identity: Rule::every(Duration::from_secs(30), 20),
            under_pressure: Rule::every(Duration::from_secs(3_600), 3),
            cooldown: Duration::from_secs(15 * 60),
        }
    }
}

impl GuessingPolicy {
    /// Defaults, overridden by `GUESS_TENANT_BURST`, `GUESS_TENANT_REFILL_SECS`,
    /// `GUESS_IDENTITY_BURST`, `GUESS_IDENTITY_REFILL_SECS`,
    /// `GUESS_PRESSURE_BURST`, `GUESS_PRESSURE_REFILL_SECS`, `GUESS_COOLDOWN_SECS`.
    pub fn from_env() -> GuessingPolicy {
        let var = |name: &str| env_value(name).and_then(|v| v.parse::<u32>().ok());
        let d = GuessingPolicy::default();
        let rule = |name: &str, default: Rule| {
            let interval = var(&format!("GUESS_{name}_REFILL_SECS"))
                .map_or(default.interval_us, |s| i64::from(s.max(1)) * 1_000_000);
            Rule {
                interval_us: interval,
                burst: var(&format!("GUESS_{name}_BURST"))
                    .unwrap_or(default.burst)
                    .max(1),
            }
        };
        GuessingPolicy {
            per_tenant: rule("TENANT", d.per_tenant),
            per_identity: rule("IDENTITY", d.per_identity),
            under_pressure: rule("PRESSURE", d.under_pressure),
            cooldown: var("GUESS_COOLDOWN_SECS")
                .map_or(d.cooldown, |s| Duration::from_secs(s.into())),
        }
    }
}

/// What a request is, for the limiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Looks a code up (details, validate, consume, reserve) for `Identity`:
    /// guessing counts here.
    CodeLookup(Identity),
    /// Creates coupons: the limiter fails closed here.
    Create,
    Other,
}

/// Whose misses a code lookup counts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The end customer the request names (`customer_id`).
    Customer(String),
    /// The client address, for a request without `customer_id`.
    Address(String),
    /// Neither is known (an event without a source address).
    Unknown,
}

impl Identity {
    /// The bucket item counting this identity's misses; it also records a block.
    fn key(&self, tenant: &TenantId) -> Option<String> {
        match self {
            Identity::Customer(customer) => Some(format!("T#{tenant}#MISS#c:{customer}")),
            Identity::Address(ip) => Some(format!("T#{tenant}#MISS#ip:{ip}")),
            Identity::Unknown => None,
        }
    }

    /// The bucket item of its smaller budget under pressure.
    fn pressure_key(&self, tenant: &TenantId) -> Option<String> {
        self.key(tenant).map(|key| format!("{key}#PRESSURE"))
    }
}

/// Classifies a request once, for admission and for counting a miss. A
/// code lookup's identity is its `customer_id` (query or body), else its
/// client address; a body that cannot be read leaves the address (the
/// route refuses the request anyway).
pub async fn kind(req: &Request, matched: Option<&Matched<'_>>) -> Kind {
    let has_code = || {
        req.query_string_parameters_ref()
            .is_some_and(|q| q.first("code").is_some())
    };
    let lookup = match (req.method(), matched.map(Matched::route)) {
        (&Method::POST, Some(Route::Coupons | Route::CampaignImport)) => return Kind::Create,
        (&Method::GET, Some(Route::Coupons)) => has_code(),
        (_, Some(Route::Consume)) => true,
        (&Method::POST, Some(Route::Reservations)) => true,
        _ => false,
    };
    if !lookup {
        return Kind::Other;
    }
    let customer = match request::query_fields(req) {
        Ok(query) if query.contains_key("customer_id") => Some(query),
        Ok(_) => request::body_fields(req).await.ok(),
        Err(_) => None,
    }
    .and_then(|fields| match fields.get("customer_id") {
        Some(Value::String(id)) => parse_label("customer_id", id, MAX_CUSTOMER_ID_CHARS).ok(),
        _ => None,
    });
    Kind::CodeLookup(match (customer, client_ip(req)) {
        (Some(customer), _) => Identity::Customer(customer),
        (None, Some(ip)) => Identity::Address(ip.to_owned()),
        (None, None) => Identity::Unknown,
    })
}

fn client_ip(req: &Request) -> Option<&str> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .http
            .source_ip
            .as_deref()
            .filter(|ip| !ip.is_empty() && ip.len() <= 64),
        _ => None,
    }
}

/// The bucket state a response reports in `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    limit: u32,
    remaining: u32,
    reset: Duration,
}

/// Named once, not parsed from text on every response.
const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

impl Quota {
    pub fn apply(&self, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(
            RATELIMIT_RESET,
            HeaderValue::from(whole_seconds(self.reset)),
        );
    }
}

pub struct Limits {
    buckets: DynamoStore,
    hints: Hints,
    guessing: GuessingPolicy,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Limits {
    pub fn new(buckets: DynamoStore, guessing: GuessingPolicy) -> Limits {
        Limits {
            buckets,
            hints: Hints::default(),
            guessing,
        }
    }

    /// The tenant's bucket key and per-item rule. A tenant whose rate needs
    /// more than one item gets a random one of its shards per request.
    fn tenant_bucket(caller: &Caller) -> (String, Rule, Vec<String>) {
        let rate = (1_000_000 / caller.rule.interval_us.max(1)) as u32;
        let shards = rate.div_ceil(MAX_RATE_PER_BUCKET).max(1);
        let all: Vec<String> = (0..shards)
            .map(|i| format!("T#{}#RL#{i}", caller.tenant))
            .collect();
        let rule = Rule {
            interval_us: caller.rule.interval_us * i64::from(shards),
            burst: caller.rule.burst.div_ceil(shards),
        };
        let pick = if shards == 1 {
            0
        } else {
            rand::random_range(0..shards as usize)
        };
        (all[pick].clone(), rule, all)
    }

    /// Takes a token for this request, or says why not. `Ok(None)` means the
    /// limiter itself failed and the request goes on unlimited (fail open).
    /// A code lookup is also refused while its identity is blocked for
    /// guessing; that is read alongside the token, not after it.
    pub async fn admit(
        &self,
        caller: &Caller,
        kind: &Kind,
    ) -> Result<Option<Quota>, (ApiError, Option<Quota>)> {
        let (key, rule, _) = Self::tenant_bucket(caller);
        let token = limiter::take(&self.buckets, &self.hints, &key, rule, now_us);
        let block_key = match kind {
            Kind::CodeLookup(identity) => identity.key(&caller.tenant),
            _ => None,
        };
        let blocked = async {
            match &block_key {
                Some(key) => self.buckets.blocked_until(key).await,
                None => Ok(None),
            }
        };
        let (decision, blocked) = futures_util::future::join(token, blocked).await;
        let limit = caller.burst;
        let now = now_us();
        match blocked {
            Ok(Some(until)) if until > now => {
                let retry_after = limiter::micros(until - now);
                return Err((
                    ApiError::RateLimited {
                        retry_after: whole_seconds(retry_after).max(1),
                        detail: "too many lookups of codes that do not exist for this \
                                 customer (or, without customer_id, this client address); \
                                 its code lookups are paused"
                            .into(),
                    },
                    None,
                ));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read a guessing block; failing open"),
        }
        let decision = match decision {
            Ok(decision) => decision,
            // Creating coupons is not a checkout path and is the costliest
            // thing to abuse: without a working limiter it waits (503).
            // Everything else keeps serving customers; API Gateway's stage
            // throttle still bounds the volume.
            Err(e) if *kind == Kind::Create => {
                tracing::warn!(error = %e, "rate limiter unavailable; failing closed for create");
                return Err((e.into(), None));
            }
            Err(e) => {
                tracing::warn!(error = %e, "rate limiter unavailable; failing open");
                return Ok(None);
            }
        };
        match decision {
            Decision::Allowed { remaining, full_in } => Ok(Some(Quota {
                limit,
                remaining,
                reset: full_in,
            })),
            Decision::Limited { retry_after } => Err((
                ApiError::RateLimited {
                    retry_after: whole_seconds(retry_after).max(1),
                    detail: format!(
                        "rate limit of this token's tenant reached; retry after {} s",
                        whole_seconds(retry_after).max(1)
                    ),
                },
                Some(Quota {
                    limit,
                    remaining: 0,
                    reset: retry_after,
                }),
            )),
        }
    }

    /// Counts a lookup of a code that does not exist against the tenant's
    /// budget and its identity's (and, while the tenant is under pressure,
    /// the identity's smaller one); an identity that spent one is blocked
    /// for the cool-down. Answers whether the tenant is under pressure.
    /// Failures here are logged, never answered: the request has been
    /// served already.
    pub async fn record_miss(&self, caller: &Caller, kind: &Kind) -> bool {
        let Kind::CodeLookup(identity) = kind else {
            return false;
        };
        let tenant = &caller.tenant;
        let take = |key: String, rule: Rule| async move {
            match limiter::take(&self.buckets, &self.hints, &key, rule, now_us).await {
                Ok(decision) => decision.emptied(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not count an unknown-code lookup");
                    false
                }
            }
        };
        let tenant_key = format!("T#{tenant}#MISS");
        let (pressure, mut spent) =
            futures_util::future::join(take(tenant_key, self.guessing.per_tenant), async {
                match identity.key(tenant) {
                    Some(key) => take(key, self.guessing.per_identity).await,
                    None => false,
                }
            })
            .await;
        if pressure {
            tracing::warn!(tenant = %tenant, "tenant under guessing pressure: stricter budgets per identity");
            if let Some(key) = identity.pressure_key(tenant) {
                spent |= take(key, self.guessing.under_pressure).await;
            }
        }
        if let (true, Some(key)) = (spent, identity.key(tenant)) {
            tracing::warn!(tenant = %tenant, identity = ?identity, "blocking code lookups after too many unknown codes");
            let until = now_us() + self.guessing.cooldown.as_micros() as i64;
            if let Err(e) = self.buckets.block(&key, until).await {
                tracing::warn!(error = %e, "could not block a guessing identity");
            }
        }
        pressure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(rate: u32, burst: u32) -> Caller {
        Caller {
            tenant: TenantId::parse("t").unwrap(),
            rule: Rule::per_second(rate, burst),
            burst,
        }
    }

    #[test]
    fn one_bucket_item_up_to_its_partition_share() {
        let (key, rule, all) = Limits::tenant_bucket(&caller(500, 1_000));
        assert_eq!(all, ["T#t#RL#0"]);
        assert_eq!(key, "T#t#RL#0");
        assert_eq!(rule, Rule::per_second(500, 1_000));
    }

    #[test]
    fn faster_tenants_are_spread_over_shards_that_add_up() {
        let (key, rule, all) = Limits::tenant_bucket(&caller(2_000, 1_000));
        assert_eq!(all.len(), 4);
        assert!(all.contains(&key));
        assert_eq!(
            rule,
            Rule {
                interval_us: 2_000,
                burst: 250
            }
        );
        assert_eq!(1_000_000 / rule.interval_us * all.len() as i64, 2_000);
    }
}
