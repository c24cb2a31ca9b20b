//! `Idempotency-Key`: a client's name for one consume, so a retry after a
//! timeout answers the first response instead of consuming again.

use sha2::{Digest, Sha256};

use crate::invalid::Invalid;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;

/// A key and a digest of the parameters it came with: the same key with
/// other parameters is a client bug, refused rather than replayed.
#[derive(Debug, Clone, PartialEq)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: String,
}

impl Idempotency {
    /// `parameters` must name every input that changes what the request does.
    pub fn parse(key: &str, parameters: &serde_json::Value) -> Result<Idempotency, Invalid> {
        if key.is_empty()
            || key.len() > MAX_KEY_CHARS
            || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(Invalid(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters"
            )));
        }
        let digest = Sha256::digest(parameters.to_string().as_bytes());
        Ok(Idempotency {
            key: key.to_owned(),
            fingerprint: hex::encode(digest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_parameters_same_fingerprint() {
        let a = Idempotency::parse("order-1", &json!(["ABC", null, "100"])).unwrap();
        let b = Idempotency::parse("order-1", &json!(["ABC", null, "100"])).unwrap();
        let c = Idempotency::parse("order-1", &json!(["ABC", null, "101"])).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.fingerprint, c.fingerprint);
    }

    #[test]
    fn refuses_unprintable_or_long_keys() {
        for bad in ["", "a\nb", "ключ", &"k".repeat(256)] {
            assert!(Idempotency::parse(bad, &json!(null)).is_err(), "{bad:?}");
        }
    }
}
