//! How many random codes of one shape a tenant may have live, so that a
//! guess at a code succeeds with a probability below a set threshold.
//!
//! With `S` live codes of `L` random characters each drawn from an alphabet
//! of `A`, a uniformly random guess hits one with probability `S / A^L`
//! (literal characters, a prefix or a pattern's dashes, add nothing).
//! Generating `quantity` more is refused when `(S + quantity) / A^L` would
//! exceed the threshold (`CODE_GUESS_THRESHOLD`, default 1e-6). Custom
//! codes are chosen by people, not drawn at random, and are not counted.

use crate::config::env_value;
use crate::invalid::Invalid;

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
    /// Characters each random position draws from.
    pub alphabet_len: usize,
    /// Random characters in a code; literal ones are not counted.
    pub length: usize,
    /// Most live codes allowed; `u64::MAX` when the keyspace is practically endless.
    pub max_live: u64,
}

impl KeyspacePolicy {
    /// `CODE_GUESS_THRESHOLD`, a probability in (0, 1].
    pub fn from_env() -> KeyspacePolicy {
        let threshold = env_value("CODE_GUESS_THRESHOLD")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|t| *t > 0.0 && *t <= 1.0)
            .unwrap_or(DEFAULT_GUESS_THRESHOLD);
        KeyspacePolicy {
            guess_threshold: threshold,
        }
    }

    /// Checks what can be known without the tenant's count: that `quantity`
    /// distinct codes exist at all, and that they alone stay under the threshold.
    /// The counter key `alphabet_len:positions` keeps counts made before
    /// charsets and patterns (`31:L`) valid.
    pub fn shape(
        &self,
        alphabet_len: usize,
        positions: usize,
        quantity: u64,
    ) -> Result<Shape, Invalid> {
        // Floating point is fine here: this is a policy bound, not money.
        let keyspace = (alphabet_len as f64).powi(i32::try_from(positions).unwrap_or(i32::MAX));
        if (quantity as f64) > keyspace {
            return Err(Invalid(format!(
                "{quantity} distinct codes cannot be made from {alphabet_len} characters at \
                 {positions} random positions ({keyspace:.0} possible); {MORE_KEYSPACE}"
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
                alphabet_len,
                positions,
                quantity,
                0,
                max_live,
                self.guess_threshold,
            ));
        }
        Ok(Shape {
            key: format!("{alphabet_len}:{positions}"),
            alphabet_len,
            length: positions,
            max_live,
        })
    }

    pub fn refusal(&self, shape: &Shape, quantity: u64, live: u64) -> Invalid {
        too_guessable(
            shape.alphabet_len,
            shape.length,
            quantity,
            live,
            shape.max_live,
            self.guess_threshold,
        )
    }
}

/// What a refused request can change to get a larger keyspace.
const MORE_KEYSPACE: &str =
    "use a longer code_length, more '#' in the pattern, or a larger charset";

fn too_guessable(
    alphabet_len: usize,
    positions: usize,
    quantity: u64,
    live: u64,
    max_live: u64,
    threshold: f64,
) -> Invalid {
    Invalid(format!(
        "codes of {positions} random positions from {alphabet_len} characters are too easy to guess: \
         with {live} live and {quantity} more, a random guess would hit one with probability above \
         {threshold:e} (at most {max_live} may be live); {MORE_KEYSPACE}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_codes_in_bulk_are_refused_long_ones_accepted() {
        let policy = KeyspacePolicy::default();
        assert!(policy.shape(31, 4, 1_000_000).is_err());
        assert!(policy.shape(31, 4, 1).is_err(), "31^4 * 1e-6 < 1");
        let shape = policy.shape(31, 12, 1_000).unwrap();
        assert!(shape.max_live > 1_000_000_000);
        assert_eq!(policy.shape(31, 6, 1).unwrap().max_live, 887);
        assert_eq!(policy.shape(31, 64, 1).unwrap().max_live, u64::MAX);
    }

    #[test]
    fn infeasible_quantities_say_so() {
        let policy = KeyspacePolicy {
            guess_threshold: 1.0,
        };
        let err = policy.shape(31, 4, 1_000_000).unwrap_err().to_string();
        assert!(err.contains("cannot be made"), "{err}");
        assert!(policy.shape(31, 4, 923_521).is_ok());
        let err = policy.shape(2, 4, 17).unwrap_err().to_string();
        assert!(
            err.contains("from 2 characters at 4 random positions"),
            "{err}"
        );
    }

    #[test]
    fn counters_are_per_alphabet_and_positions() {
        let policy = KeyspacePolicy::default();
        // The key of counts made before charsets and patterns existed.
        assert_eq!(policy.shape(31, 12, 1).unwrap().key, "31:12");
        let shape = policy.shape(10, 12, 1).unwrap();
        assert_eq!((shape.key.as_str(), shape.length), ("10:12", 12));
        assert_eq!(shape.max_live, 1_000_000);
        let err = policy.refusal(&shape, 1, 1_000_000).to_string();
        assert!(
            err.contains("codes of 12 random positions from 10 characters"),
            "{err}"
        );
        assert!(policy.shape(10, 5, 1).is_err(), "10^5 * 1e-6 < 1");
    }
}
