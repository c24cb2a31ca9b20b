//! Tenants and their API tokens.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::invalid::Invalid;

/// A tenant's id: 1 to 40 of `a-z 0-9 -`, so it can never contain the `#`
/// that separates the parts of a DynamoDB key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(input: &str) -> Result<TenantId, Invalid> {
        let ok = !input.is_empty()
            && input.len() <= 40
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(TenantId(input.to_owned()))
        } else {
            Err(Invalid(format!(
                "tenant id must be 1 to 40 of a-z, 0-9 and '-', got {input:?}"
            )))
        }
    }

    pub fn generate() -> TenantId {
        TenantId(format!("t-{}", random_hex(6)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// Token-bucket refill rate (requests per second) and bucket size.
    pub rate_per_second: u32,
    pub burst: u32,
    pub created_at: DateTime<Utc>,
}

pub const DEFAULT_RATE_PER_SECOND: u32 = 50;
pub const DEFAULT_BURST: u32 = 100;

/// A bearer token as issued: shown once, then only its hash is kept.
pub struct IssuedToken {
    pub token_id: String,
    pub secret: String,
}

impl IssuedToken {
    /// 256 random bits from the OS-seeded CSPRNG.
    pub fn generate() -> IssuedToken {
        IssuedToken {
            token_id: format!("tok-{}", random_hex(6)),
            secret: format!("cms_{}", random_hex(32)),
        }
    }

    /// A token with a chosen secret (the local demo tenant's `CMS_DEMO_TOKEN`).
    pub fn with_secret(secret: &str) -> Result<IssuedToken, Invalid> {
        if secret.len() < 16 || secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Invalid(
                "a token must be 16 to 256 printable ASCII characters without spaces".into(),
            ));
        }
        Ok(IssuedToken {
            token_id: format!("tok-{}", random_hex(6)),
            secret: secret.to_owned(),
        })
    }
}

/// What the table keeps of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub token_id: String,
    pub tenant_id: TenantId,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// SHA-256 of the secret, hex. Tokens carry 128+ random bits, so a fast
/// unsalted hash is enough: there is nothing to brute-force.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `bytes` random bytes as hex, for ids.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = IssuedToken::generate();
        let b = IssuedToken::generate();
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.secret.len(), 4 + 64);
        assert_eq!(token_hash(&a.secret).len(), 64);
        assert_ne!(token_hash(&a.secret), a.secret);
    }

    #[test]
    fn tenant_ids_cannot_hold_key_separators() {
        assert!(TenantId::parse("acme-1").is_ok());
        for bad in ["", "ACME", "a#b", "a b", &"a".repeat(41)] {
            assert!(TenantId::parse(bad).is_err());
        }
    }
}
