//! Bearer-token authentication with a short-lived per-instance cache.

use std::time::Duration;

use lambda_http::Request;
use lambda_http::http::header::AUTHORIZATION;

use crate::cache::TtlCache;
use crate::error::ApiError;
use crate::limiter::Rule;
use crate::limits::Caller;
use crate::store::TenantStore;
use crate::tenant::token_hash;

/// How long a warm instance trusts a token it has checked (and its tenant's
/// rate settings). Revocation and rate changes take effect within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);
/// Bound on cached tokens, so a flood of distinct valid tokens cannot grow memory.
const TOKEN_CACHE_CAPACITY: usize = 10_000;

/// Token hash -> caller (tenant and rate rule), per warm Lambda instance.
pub struct Authenticator {
    cache: TtlCache<String, Caller>,
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
        let record = store
            .find_token(&hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if record.revoked_at.is_some() {
            return Err(ApiError::Unauthorized);
        }
        let tenant = store
            .get_tenant(&record.tenant_id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
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
