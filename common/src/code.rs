//! Coupon codes: normalisation of what clients send, and generation.

use std::fmt;

use rand::RngExt;

use crate::invalid::Invalid;

/// Upper-case letters and digits without the look-alikes 0/O and 1/I/L.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const MIN_GENERATED_LENGTH: usize = 4;
pub const MAX_CODE_LENGTH: usize = 64;
pub const DEFAULT_GENERATED_LENGTH: usize = 8;

/// A coupon code as stored: trimmed, upper case, `A-Z 0-9 - _` only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CouponCode(String);

impl CouponCode {
    /// Codes are case-insensitive: input is trimmed and upper-cased first.
    pub fn parse(input: &str) -> Result<CouponCode, Invalid> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Invalid("code must not be empty".into()));
        }
        if trimmed.len() > MAX_CODE_LENGTH {
            return Err(Invalid(format!(
                "code must be at most {MAX_CODE_LENGTH} characters"
            )));
        }
        if !trimmed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Invalid(
                "code may contain only letters, digits, '-' and '_'".into(),
            ));
        }
        Ok(CouponCode(trimmed.to_ascii_uppercase()))
    }

    /// A fresh code from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate(length: usize) -> CouponCode {
        CouponCode::generate_with_fingerprint(length).0
    }

    /// A fresh code and a 64-bit fingerprint of it: equal codes always have
    /// equal fingerprints (codes of up to 12 characters map one to one), so a
    /// set of fingerprints tells distinct codes apart far faster than a set
    /// of strings, erring only towards drawing again.
    ///
    /// One unbiased draw below 31^12 (< 2^64) gives twelve independent,
    /// uniform base-31 digits, so a 12-character code costs one draw.
    /// `CodeFormat::generate` does the same for any format, and is what
    /// `POST /coupon` uses; this one needs no format built first.
    pub fn generate_with_fingerprint(length: usize) -> (CouponCode, u64) {
        const BASE: u64 = ALPHABET.len() as u64;
        const DIGITS_PER_DRAW: usize = 12;
        let mut rng = rand::rng();
        let mut code = String::with_capacity(length);
        let mut fingerprint = 0u64;
        while code.len() < length {
            let digits = (length - code.len()).min(DIGITS_PER_DRAW);
            let mut draw = rng.random_range(0..BASE.pow(digits as u32));
            fingerprint = fingerprint.rotate_left(29) ^ draw;
            for _ in 0..digits {
                code.push(ALPHABET[(draw % BASE) as usize] as char);
                draw /= BASE;
            }
        }
        (CouponCode(code), fingerprint)
    }

    /// A code `CodeFormat::generate` built from code characters only. Skips
    /// `parse`, which would about double the cost of each generated code.
    pub(crate) fn from_generated(code: String) -> CouponCode {
        CouponCode(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CouponCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hashes fingerprints of generated codes with one multiplication: they are
/// uniformly random already, and never chosen by a client. The multiplying
/// matters: a fingerprint of twelve readable characters is below 31^12, about
/// 2^59.5, so its top seven bits, which the set compares before the keys,
/// would take only six values and most lookups would compare many keys.
#[derive(Default, Clone, Copy)]
pub struct FingerprintHasher(u64);

impl std::hash::Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        // An odd constant (2^64 divided by the golden ratio): a bijection that
        // carries the low bits' randomness into the high ones.
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A set of code fingerprints, for telling generated codes apart.
pub type FingerprintSet =
    std::collections::HashSet<u64, std::hash::BuildHasherDefault<FingerprintHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(
            CouponCode::parse("  aysb23x2 ").unwrap().as_str(),
            "AYSB23X2"
        );
    }

    #[test]
    fn rejects_bad_codes() {
        for bad in ["", "   ", "AB CD", "ÄBC", "A;DROP", &"A".repeat(65)] {
            assert!(CouponCode::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn generated_codes_avoid_look_alikes() {
        for _ in 0..200 {
            let code = CouponCode::generate(32);
            assert_eq!(code.as_str().len(), 32);
            assert!(!code.as_str().contains(['0', 'O', '1', 'I', 'L']));
        }
    }

    #[test]
    fn equal_codes_have_equal_fingerprints() {
        for length in [4, 12, 13, 40] {
            let mut seen = std::collections::HashMap::new();
            for _ in 0..5_000 {
                let (code, fingerprint) = CouponCode::generate_with_fingerprint(length);
                if let Some(other) = seen.insert(fingerprint, code.clone()) {
                    // A shared fingerprint is allowed only when it errs safe.
                    assert!(length > 12 || other == code);
                }
            }
        }
        // Up to 12 characters the fingerprint is the code, read in base 31.
        let (code, fingerprint) = CouponCode::generate_with_fingerprint(12);
        let decoded = code.as_str().bytes().rev().fold(0u64, |n, b| {
            n * 31 + ALPHABET.iter().position(|&a| a == b).unwrap() as u64
        });
        assert_eq!(decoded, fingerprint);
    }

    #[test]
    fn every_character_is_about_equally_likely() {
        let mut counts = [0u32; 31];
        for _ in 0..2_000 {
            for b in CouponCode::generate(31).as_str().bytes() {
                counts[ALPHABET.iter().position(|&a| a == b).unwrap()] += 1;
            }
        }
        // 62,000 draws, 2,000 expected per character; a fair generator
        // stays well within 15% (about seven standard deviations).
        for (i, count) in counts.iter().enumerate() {
            assert!(
                (1_700..=2_300).contains(count),
                "{} drawn {count} times",
                ALPHABET[i] as char
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_is_idempotent(input in "\\PC{0,80}") {
            if let Ok(code) = CouponCode::parse(&input) {
                prop_assert_eq!(CouponCode::parse(code.as_str()).unwrap(), code);
            }
        }
    }
}
