//! How many random codes of one shape a tenant may have live, so that a
//! guess at a code succeeds with a probability below a set threshold.
//!
//! With `S` live codes of length `L` over an alphabet of `A` characters, a
//! uniformly random guess hits one with probability `S / A^L`. Generating
//! `quantity` more is refused when `(S + quantity) / A^L` would exceed the
//! threshold (`CODE_GUESS_THRESHOLD`, default 1e-6). Custom codes are chosen
//! by people, not drawn at random, and are not counted.

use crate::code::ALPHABET;
use crate::error::ApiError;

pub const DEFAULT_GUESS_THRESHOLD: f64 = 1e-6;

#[derive(Debug, Clone, Copy)]
pub struct KeyspacePolicy {
    pub guess_threshold: f64,
}

impl Default for KeyspacePolicy {
    fn default() -> Self {
        KeyspacePolicy {
            guess_threshold: DEFAULT_GUESS_THRESHOLD,
        }
    }
}

/// The keyspace of one code shape, and how much of it may be live.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// Key of the tenant's live-code counter for this shape.
    pub key: String,
    pub length: usize,
    /// Most live codes allowed; `u64::MAX` when the keyspace is practically endless.
    pub max_live: u64,
}

impl KeyspacePolicy {
    /// `CODE_GUESS_THRESHOLD`, a probability in (0, 1].
    pub fn from_env() -> KeyspacePolicy {
        let threshold = std::env::var("CODE_GUESS_THRESHOLD")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|t| *t > 0.0 && *t <= 1.0)
            .unwrap_or(DEFAULT_GUESS_THRESHOLD);
        KeyspacePolicy {
            guess_threshold: threshold,
        }
    }

    /// Checks what can be known without the tenant's count: that `quantity`
    /// distinct codes exist at all, and that they alone stay under the threshold.
    pub fn shape(&self, length: usize, quantity: u64) -> Result<Shape, ApiError> {
        let alphabet = ALPHABET.len();
        // Floating point is fine here: this is a policy bound, not money.
        let keyspace = (alphabet as f64).powi(length as i32);
        if (quantity as f64) > keyspace {
            return Err(ApiError::Invalid(format!(
                "{quantity} distinct codes cannot be made from {alphabet} characters at length {length} \
                 ({keyspace:.0} possible); use a longer code_length"
            )));
        }
        let max_live = (keyspace * self.guess_threshold).floor();
        let max_live = if max_live >= u64::MAX as f64 {
            u64::MAX
        } else {
            max_live as u64
        };
        if quantity > max_live {
            return Err(too_guessable(
                length,
                quantity,
                0,
                max_live,
                self.guess_threshold,
            ));
        }
        Ok(Shape {
            key: format!("{alphabet}:{length}"),
            length,
            max_live,
        })
    }

    pub fn refusal(&self, shape: &Shape, quantity: u64, live: u64) -> ApiError {
        too_guessable(
            shape.length,
            quantity,
            live,
            shape.max_live,
            self.guess_threshold,
        )
    }
}

fn too_guessable(
    length: usize,
    quantity: u64,
    live: u64,
    max_live: u64,
    threshold: f64,
) -> ApiError {
    ApiError::Invalid(format!(
        "codes of length {length} are too easy to guess: with {live} live and {quantity} more, a random \
         guess would hit one with probability above {threshold:e} (at most {max_live} may be live); \
         use a longer code_length"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_codes_in_bulk_are_refused_long_ones_accepted() {
        let policy = KeyspacePolicy::default();
        assert!(policy.shape(4, 1_000_000).is_err());
        assert!(policy.shape(4, 1).is_err(), "31^4 * 1e-6 < 1");
        let shape = policy.shape(12, 1_000).unwrap();
        assert!(shape.max_live > 1_000_000_000);
        assert_eq!(policy.shape(6, 1).unwrap().max_live, 887);
        assert_eq!(policy.shape(64, 1).unwrap().max_live, u64::MAX);
    }

    #[test]
    fn infeasible_quantities_say_so() {
        let policy = KeyspacePolicy {
            guess_threshold: 1.0,
        };
        let err = policy.shape(4, 1_000_000).unwrap_err().to_string();
        assert!(err.contains("cannot be made"), "{err}");
        assert!(policy.shape(4, 923_521).is_ok());
    }
}
