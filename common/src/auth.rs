//! Bearer-token authentication with a short-lived per-instance cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lambda_http::Request;
use lambda_http::http::header::AUTHORIZATION;

use crate::error::ApiError;
use crate::store::TenantStore;
use crate::tenant::{TenantId, token_hash};

/// How long a warm instance trusts a token it has checked. Revocation takes
/// effect within this time.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);
/// Bound on cached tokens, so a flood of distinct valid tokens cannot grow memory.
const TOKEN_CACHE_CAPACITY: usize = 10_000;

/// Token hash -> tenant, per warm Lambda instance.
pub struct Authenticator {
    cache: Mutex<HashMap<String, (TenantId, Instant)>>,
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

    /// The tenant whose live token the request carries.
    pub async fn tenant(
        &self,
        store: &impl TenantStore,
        req: &Request,
    ) -> Result<TenantId, ApiError> {
        let secret = bearer_token(req).ok_or(ApiError::Unauthorized)?;
        let hash = token_hash(secret);
        if let Some(tenant) = self.cached(&hash) {
            return Ok(tenant);
        }
        let record = store
            .find_token(&hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        if record.revoked_at.is_some() {
            return Err(ApiError::Unauthorized);
        }
        self.remember(hash, record.tenant_id.clone());
        Ok(record.tenant_id)
    }

    fn cached(&self, hash: &str) -> Option<TenantId> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(tenant, _)| tenant.clone())
    }

    fn remember(&self, hash: String, tenant: TenantId) {
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
        cache.insert(hash, (tenant, Instant::now()));
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
