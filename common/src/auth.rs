//! Bearer-token authentication with a short-lived per-instance cache.

use std::time::Duration;

use lambda_http::Request;
use lambda_http::http::header::AUTHORIZATION;

use crate::cache::TtlCache;
use crate::error::ApiError;
use crate::limiter::Rule;
use crate::store::TenantStore;
use crate::tenant::{TenantId, token_hash};

/// How long a warm instance trusts a token it has checked (and its tenant's
/// rate settings). Revocation and rate changes take effect within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);
/// Bound on cached tokens, so a flood of distinct valid tokens cannot grow memory.
const TOKEN_CACHE_CAPACITY: usize = 10_000;
/// How long a warm instance remembers that a token is not (or no longer)
/// valid: a flood repeating junk tokens costs one read per token and
/// instance in this time, and a token issued just after its first failed
/// try works within it.
pub const UNKNOWN_TOKEN_TTL: Duration = Duration::from_secs(10);
/// Bound on remembered junk tokens: at capacity they are forgotten, which
/// only costs a read each again.
const UNKNOWN_TOKEN_CAPACITY: usize = 1_000;

/// Who is calling: the token's tenant and its rate rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub tenant: TenantId,
    pub rule: Rule,
    /// The rule as configured, for `RateLimit-Limit`.
    pub burst: u32,
}

/// Token hash -> caller (tenant and rate rule), per warm Lambda instance,
/// and the hashes of tokens found not to be valid.
pub struct Authenticator {
    cache: TtlCache<String, Caller>,
    unknown: TtlCache<String, ()>,
}

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator::with_ttl(TOKEN_CACHE_TTL)
    }
}

impl Authenticator {
    pub fn with_ttl(ttl: Duration) -> Authenticator {
        Authenticator {
            cache: TtlCache::new(ttl, TOKEN_CACHE_CAPACITY),
            unknown: TtlCache::new(UNKNOWN_TOKEN_TTL, UNKNOWN_TOKEN_CAPACITY),
        }
    }

    /// The tenant whose live token the request carries, with its rate rule.
    pub async fn caller(
        &self,
        store: &impl TenantStore,
        req: &Request,
    ) -> Result<Caller, ApiError> {
        let secret = bearer_token(req).ok_or(ApiError::Unauthorized)?;
        let hash = token_hash(secret);
        if let Some(caller) = self.cache.get(&hash) {
            return Ok(caller);
        }
        if self.unknown.get(&hash).is_some() {
            return Err(ApiError::Unauthorized);
        }
        let record = store.find_token(&hash).await?;
        let record = record.filter(|record| record.revoked_at.is_none());
        let tenant = match &record {
            Some(record) => store.get_tenant(&record.tenant_id).await?,
            None => None,
        };
        let Some(tenant) = tenant else {
            self.unknown.insert(hash, ());
            return Err(ApiError::Unauthorized);
        };
        let caller = Caller {
            rule: Rule::per_second(tenant.rate_per_second, tenant.burst),
            burst: tenant.burst,
            tenant: tenant.id,
        };
        self.cache.insert(hash, caller.clone());
        Ok(caller)
    }
}

/// `Authorization: Bearer <token>`, or the original API's bare `<token>`.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}
