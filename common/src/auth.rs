//! Bearer-token authentication with a short-lived per-instance cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lambda_http::Request;
use lambda_http::http::header::AUTHORIZATION;

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
    cache: Mutex<HashMap<String, (Caller, Instant)>>,
    ttl: Duration,
}

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator::with_ttl(TOKEN_CACHE_TTL)
    }
}

impl Authenticator {
    pub fn with_ttl(ttl: Duration) -> Authenticator {
        Authenticator {
            cache: Mutex::new(HashMap::new()),
            ttl,
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
        if let Some(caller) = self.cached(&hash) {
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
        self.remember(hash, caller.clone());
        Ok(caller)
    }

    fn cached(&self, hash: &str) -> Option<Caller> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(caller, _)| caller.clone())
    }

    fn remember(&self, hash: String, caller: Caller) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= TOKEN_CACHE_CAPACITY {
            let ttl = self.ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
            if cache.len() >= TOKEN_CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(hash, (caller, Instant::now()));
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
