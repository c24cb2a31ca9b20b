//! Abuse protection around every authenticated request: the tenant's token
//! bucket, and a stricter bucket for lookups of codes that do not exist, so
//! that guessing codes gets a client cut off.

use std::time::Duration;

use lambda_http::http::{HeaderName, HeaderValue, Method, Response};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};

use crate::error::ApiError;
use crate::http::path_segments;
use crate::limiter::{self, Decision, Guard, Hints, Rule, whole_seconds};
use crate::store::DynamoStore;
use crate::tenant::TenantId;

/// One bucket item takes about 1,000 writes a second (one partition); a
/// tenant allowed more than this many requests a second is spread over
/// several bucket items, each with its share of the rate and burst.
pub const MAX_RATE_PER_BUCKET: u32 = 500;

/// Who is calling: the token's tenant and its rate rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub tenant: TenantId,
    pub rule: Rule,
    /// The rule as configured, for `RateLimit-Limit`.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct GuessingPolicy {
    /// Unknown-code lookups a tenant as a whole may make (all its clients).
    pub per_tenant: Rule,
    /// Unknown-code lookups one client IP of a tenant may make.
    pub per_client: Rule,
    /// How long code lookups stay refused once a bucket is empty.
    pub cooldown: Duration,
}

impl Default for GuessingPolicy {
    fn default() -> Self {
        GuessingPolicy {
            per_tenant: Rule::every(Duration::from_secs(6), 100),
            per_client: Rule::every(Duration::from_secs(30), 20),
            cooldown: Duration::from_secs(15 * 60),
        }
    }
}

impl GuessingPolicy {
    /// Defaults, overridden by `GUESS_TENANT_BURST`, `GUESS_TENANT_REFILL_SECS`,
    /// `GUESS_CLIENT_BURST`, `GUESS_CLIENT_REFILL_SECS`, `GUESS_COOLDOWN_SECS`.
    pub fn from_env() -> GuessingPolicy {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
        let d = GuessingPolicy::default();
        let rule = |burst: &str, secs: &str, default: Rule| {
            let interval =
                var(secs).map_or(default.interval_us, |s| i64::from(s.max(1)) * 1_000_000);
            Rule {
                interval_us: interval,
                burst: var(burst).unwrap_or(default.burst).max(1),
            }
        };
        GuessingPolicy {
            per_tenant: rule(
                "GUESS_TENANT_BURST",
                "GUESS_TENANT_REFILL_SECS",
                d.per_tenant,
            ),
            per_client: rule(
                "GUESS_CLIENT_BURST",
                "GUESS_CLIENT_REFILL_SECS",
                d.per_client,
            ),
            cooldown: var("GUESS_COOLDOWN_SECS")
                .map_or(d.cooldown, |s| Duration::from_secs(s.into())),
        }
    }
}

/// What a request is, for the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Looks a code up (details, validate, consume): guessing counts here.
    CodeLookup,
    /// Creates coupons: the limiter fails closed here.
    Create,
    Other,
}

fn kind(req: &Request) -> Kind {
    let segments = path_segments(req);
    let has_code = req
        .query_string_parameters_ref()
        .is_some_and(|q| q.first("code").is_some());
    match (req.method(), segments.as_slice()) {
        (&Method::POST, ["coupon"]) => Kind::Create,
        (&Method::GET, ["coupon"]) if has_code => Kind::CodeLookup,
        (_, ["coupon", "consume"]) => Kind::CodeLookup,
        _ => Kind::Other,
    }
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
    pub async fn admit(
        &self,
        caller: &Caller,
        req: &Request,
    ) -> Result<Option<Quota>, (ApiError, Option<Quota>)> {
        let kind = kind(req);
        let guard = match kind {
            Kind::CodeLookup => Guard::NotBlocked {
                client: client_ip(req),
            },
            _ => Guard::None,
        };
        let (key, rule, _) = Self::tenant_bucket(caller);
        let decision = match limiter::take(&self.buckets, &self.hints, &key, rule, now_us, guard)
            .await
        {
            Ok(decision) => decision,
            // Creating coupons is not a checkout path and is the costliest
            // thing to abuse: without a working limiter it waits (503).
            // Everything else keeps serving customers; API Gateway's stage
            // throttle still bounds the volume.
            Err(e) if kind == Kind::Create => {
                tracing::warn!(error = %e, "rate limiter unavailable; failing closed for create");
                return Err((e.into(), None));
            }
            Err(e) => {
                tracing::warn!(error = %e, "rate limiter unavailable; failing open");
                return Ok(None);
            }
        };
        let limit = caller.burst;
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
            Decision::Blocked { retry_after } => Err((
                ApiError::RateLimited {
                    retry_after: whole_seconds(retry_after).max(1),
                    detail: "too many lookups of codes that do not exist; code lookups are paused"
                        .into(),
                },
                Some(Quota {
                    limit,
                    remaining: 0,
                    reset: retry_after,
                }),
            )),
        }
    }

    /// Counts a lookup of a code that does not exist. When the tenant's or
    /// this client's allowance of those runs out, code lookups are blocked
    /// for the cool-down. Failures here are logged, never answered: the
    /// request has been served already.
    pub async fn record_miss(&self, caller: &Caller, req: &Request) {
        if kind(req) != Kind::CodeLookup {
            return;
        }
        let now = now_us();
        let client = client_ip(req);
        let tenant_key = format!("T#{}#MISS", caller.tenant);
        let mut exhausted = Vec::new();
        let mut checks = vec![(tenant_key, self.guessing.per_tenant, None)];
        if let Some(ip) = client {
            checks.push((
                format!("T#{}#MISS#{ip}", caller.tenant),
                self.guessing.per_client,
                Some(ip),
            ));
        }
        for (key, rule, who) in checks {
            match limiter::take(&self.buckets, &self.hints, &key, rule, now_us, Guard::None).await {
                Ok(Decision::Allowed { remaining: 0, .. } | Decision::Limited { .. }) => {
                    exhausted.push(who)
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not count an unknown-code lookup"),
            }
        }
        if exhausted.is_empty() {
            return;
        }
        let until = now + self.guessing.cooldown.as_micros() as i64;
        let (_, _, shards) = Self::tenant_bucket(caller);
        for who in exhausted {
            tracing::warn!(tenant = %caller.tenant, client = who, "blocking code lookups after too many unknown codes");
            for shard in &shards {
                if let Err(e) = limiter::BucketStore::block(&self.buckets, shard, who, until).await
                {
                    tracing::warn!(error = %e, "could not block a guessing client");
                }
            }
        }
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
