//! The format of generated codes: the characters random positions draw
//! from, and the literal text before, between and after them.

use std::borrow::Cow;

use rand::RngExt;

use crate::code::{
    ALPHABET, CouponCode, DEFAULT_GENERATED_LENGTH, MAX_CODE_LENGTH, MIN_GENERATED_LENGTH,
};
use crate::error::ApiError;

/// A random position in a pattern. Never a code character, so a template
/// can hold literals and random positions side by side.
const RANDOM: u8 = b'#';

/// The create-request fields that decide how generated codes look, as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct FormatFields<'a> {
    pub code_length: Option<u64>,
    pub prefix: Option<&'a str>,
    pub suffix: Option<&'a str>,
    pub pattern: Option<&'a str>,
    pub charset: Option<&'a str>,
}

/// How generated codes look: literal characters in fixed places, and random
/// positions each drawn uniformly from one alphabet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFormat {
    /// Distinct code characters, at least two.
    alphabet: Cow<'static, [u8]>,
    /// Base-`alphabet` digits one draw yields: the largest `d` with
    /// `alphabet.len()^d` still a u64.
    digits_per_draw: u32,
    /// The whole code, prefix to suffix, with `RANDOM` at each random position.
    template: Vec<u8>,
    positions: usize,
}

/// Named character sets; anything else in `charset` is the set itself.
const NAMED_CHARSETS: [(&str, &[u8]); 4] = [
    ("readable", ALPHABET),
    ("alphanumeric", b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("alphabetic", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("numbers", b"0123456789"),
];

impl CodeFormat {
    pub fn parse(fields: FormatFields<'_>) -> Result<CodeFormat, ApiError> {
        let alphabet = match fields.charset {
            None => Cow::Borrowed(ALPHABET),
            Some(charset) => parse_charset(charset)?,
        };
        let body = match (fields.pattern, fields.code_length) {
            (Some(_), Some(_)) => {
                return Err(ApiError::Invalid(
                    "give pattern or code_length, not both".into(),
                ));
            }
            (Some(pattern), None) => parse_pattern(pattern)?,
            (None, length) => {
                let length = length.unwrap_or(DEFAULT_GENERATED_LENGTH as u64);
                if !(MIN_GENERATED_LENGTH as u64..=MAX_CODE_LENGTH as u64).contains(&length) {
                    return Err(ApiError::Invalid(format!(
                        "code_length must be {MIN_GENERATED_LENGTH} to {MAX_CODE_LENGTH}"
                    )));
                }
                vec![RANDOM; length as usize]
            }
        };
        let prefix = parse_literal("prefix", fields.prefix.unwrap_or(""))?;
        let suffix = parse_literal("suffix", fields.suffix.unwrap_or(""))?;
        let length = prefix.len() + body.len() + suffix.len();
        if length > MAX_CODE_LENGTH {
            return Err(ApiError::Invalid(format!(
                "prefix, code and suffix together must be at most {MAX_CODE_LENGTH} characters, \
                 got {length}"
            )));
        }
        let template = [prefix, body, suffix].concat();
        Ok(CodeFormat {
            digits_per_draw: u64::MAX.ilog(alphabet.len() as u64),
            positions: template.iter().filter(|&&b| b == RANDOM).count(),
            alphabet,
            template,
        })
    }

    /// Characters each random position draws from.
    pub fn alphabet_len(&self) -> usize {
        self.alphabet.len()
    }

    /// Random characters in a code: with `alphabet_len`, its keyspace.
    pub fn random_positions(&self) -> usize {
        self.positions
    }

    /// A fresh code from the thread-local CSPRNG, and a 64-bit fingerprint
    /// of it: equal codes of one format always have equal fingerprints, so a
    /// set of fingerprints tells distinct codes apart far faster than a set
    /// of strings, erring only towards drawing again.
    ///
    /// One unbiased draw below `k^d` gives `d` independent, uniform base-`k`
    /// digits, so a code costs one draw per `digits_per_draw` random
    /// characters. When one draw covers them all, the fingerprint is that
    /// draw: the random characters read as a base-`k` number, first digit
    /// least significant, which maps codes one to one.
    pub fn generate(&self) -> (CouponCode, u64) {
        self.generate_with(&mut rand::rng())
    }

    /// A code drawn from `rng`: a bulk job draws from a seeded CSPRNG, so a
    /// resumed job draws the same codes again.
    pub fn generate_with<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> (CouponCode, u64) {
        let base = self.alphabet.len() as u64;
        let mut code = String::with_capacity(self.template.len());
        let mut fingerprint = 0u64;
        let mut undrawn = self.positions;
        let (mut draw, mut digits) = (0u64, 0u32);
        for &b in &self.template {
            if b != RANDOM {
                code.push(b as char);
                continue;
            }
            if digits == 0 {
                digits = self.digits_per_draw.min(undrawn as u32);
                undrawn -= digits as usize;
                draw = rng.random_range(0..base.pow(digits));
                fingerprint = fingerprint.rotate_left(29) ^ draw;
            }
            code.push(self.alphabet[(draw % base) as usize] as char);
            draw /= base;
            digits -= 1;
        }
        (CouponCode::from_generated(code), fingerprint)
    }
}

fn is_code_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A named set, or the characters given: upper-cased, since codes are
/// case-insensitive, and each kept once, in the order first given.
fn parse_charset(charset: &str) -> Result<Cow<'static, [u8]>, ApiError> {
    let charset = charset.trim();
    if let Some((_, set)) = NAMED_CHARSETS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(charset))
    {
        return Ok(Cow::Borrowed(set));
    }
    if !charset.bytes().all(is_code_char) {
        return Err(ApiError::Invalid(
            "charset must be readable, alphanumeric, alphabetic, numbers, or the characters \
             to draw from: letters, digits, '-' and '_'"
                .into(),
        ));
    }
    let mut seen = [false; 128];
    let set: Vec<u8> = charset
        .bytes()
        .map(|b| b.to_ascii_uppercase())
        .filter(|&b| !std::mem::replace(&mut seen[b as usize], true))
        .collect();
    if set.len() < 2 {
        return Err(ApiError::Invalid(
            "charset must have at least 2 different characters".into(),
        ));
    }
    Ok(Cow::Owned(set))
}

/// `#` is a random position; everything else is literal.
fn parse_pattern(pattern: &str) -> Result<Vec<u8>, ApiError> {
    let pattern = pattern.trim();
    if !pattern.bytes().all(|b| b == RANDOM || is_code_char(b)) {
        return Err(ApiError::Invalid(
            "pattern may contain only '#' (a random character), letters, digits, '-' and '_'"
                .into(),
        ));
    }
    let positions = pattern.bytes().filter(|&b| b == RANDOM).count();
    if positions < MIN_GENERATED_LENGTH {
        return Err(ApiError::Invalid(format!(
            "pattern must have at least {MIN_GENERATED_LENGTH} '#' (random characters), \
             got {positions}"
        )));
    }
    Ok(pattern.bytes().map(|b| b.to_ascii_uppercase()).collect())
}

fn parse_literal(field: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let text = text.trim();
    if !text.bytes().all(is_code_char) {
        return Err(ApiError::Invalid(format!(
            "{field} may contain only letters, digits, '-' and '_'"
        )));
    }
    Ok(text.bytes().map(|b| b.to_ascii_uppercase()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn format(fields: FormatFields<'_>) -> CodeFormat {
        CodeFormat::parse(fields).unwrap()
    }

    fn invalid(fields: FormatFields<'_>) -> String {
        match CodeFormat::parse(fields) {
            Err(ApiError::Invalid(message)) => message,
            other => panic!("{fields:?} gave {other:?}"),
        }
    }

    #[test]
    fn defaults_to_eight_readable_characters() {
        let format = format(FormatFields::default());
        assert_eq!(&*format.alphabet, ALPHABET);
        assert_eq!(format.template, b"########");
        assert_eq!((format.alphabet_len(), format.random_positions()), (31, 8));
    }

    #[test]
    fn named_charsets_ignore_case_and_whitespace() {
        for (name, len) in [
            (" Readable ", 31),
            ("ALPHANUMERIC", 36),
            ("alphabetic", 26),
            ("Numbers", 10),
        ] {
            let fields = FormatFields {
                charset: Some(name),
                ..Default::default()
            };
            assert_eq!(format(fields).alphabet_len(), len, "{name}");
        }
    }

    #[test]
    fn custom_charsets_are_upper_cased_and_deduplicated_in_order() {
        let format = format(FormatFields {
            charset: Some("xyXzy-"),
            ..Default::default()
        });
        assert_eq!(&*format.alphabet, b"XYZ-");
    }

    #[test]
    fn patterns_place_literals_and_random_characters() {
        let format = format(FormatFields {
            prefix: Some("sale-"),
            pattern: Some("xmas-####-####"),
            suffix: Some("_eu"),
            charset: Some("numbers"),
            ..Default::default()
        });
        assert_eq!(format.random_positions(), 8);
        let (code, _) = format.generate();
        let code = code.as_str().as_bytes();
        assert_eq!(code.len(), 22);
        assert!(code.starts_with(b"SALE-XMAS-") && code.ends_with(b"_EU"));
        assert_eq!(code[14], b'-');
        assert!(
            code[10..14]
                .iter()
                .chain(&code[15..19])
                .all(u8::is_ascii_digit)
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let cases: [(FormatFields<'_>, &str); 11] = [
            (
                FormatFields {
                    charset: Some("ab c"),
                    ..Default::default()
                },
                "charset must be",
            ),
            (
                FormatFields {
                    charset: Some("aAa"),
                    ..Default::default()
                },
                "charset must have at least 2",
            ),
            (
                FormatFields {
                    charset: Some(""),
                    ..Default::default()
                },
                "charset must have at least 2",
            ),
            (
                FormatFields {
                    pattern: Some("AB-###"),
                    ..Default::default()
                },
                "pattern must have at least 4 '#' (random characters), got 3",
            ),
            (
                FormatFields {
                    pattern: Some("####*"),
                    ..Default::default()
                },
                "pattern may contain only",
            ),
            (
                FormatFields {
                    pattern: Some("####"),
                    code_length: Some(8),
                    ..Default::default()
                },
                "give pattern or code_length, not both",
            ),
            (
                FormatFields {
                    code_length: Some(3),
                    ..Default::default()
                },
                "code_length must be 4 to 64",
            ),
            (
                FormatFields {
                    code_length: Some(u64::MAX),
                    ..Default::default()
                },
                "code_length must be 4 to 64",
            ),
            (
                FormatFields {
                    prefix: Some("A#"),
                    ..Default::default()
                },
                "prefix may contain only",
            ),
            (
                FormatFields {
                    suffix: Some("ä"),
                    ..Default::default()
                },
                "suffix may contain only",
            ),
            (
                FormatFields {
                    prefix: Some("ABCDE"),
                    code_length: Some(60),
                    ..Default::default()
                },
                "prefix, code and suffix together must be at most 64 characters, got 65",
            ),
        ];
        for (fields, expected) in cases {
            let message = invalid(fields);
            assert!(message.contains(expected), "{fields:?}: {message}");
        }
        assert!(
            CodeFormat::parse(FormatFields {
                prefix: Some("ABCD"),
                code_length: Some(60),
                ..Default::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn readable_codes_fingerprint_like_generate_with_fingerprint() {
        let length = |code_length| {
            format(FormatFields {
                code_length: Some(code_length),
                ..Default::default()
            })
        };
        // Up to 12 characters the fingerprint is the code, read in base 31.
        let (code, fingerprint) = length(12).generate();
        let decoded = code.as_str().bytes().rev().fold(0u64, |n, b| {
            n * 31 + ALPHABET.iter().position(|&a| a == b).unwrap() as u64
        });
        assert_eq!(decoded, fingerprint);
        assert_eq!(length(13).digits_per_draw, 12);
    }

    #[test]
    fn fingerprints_of_one_draw_are_the_random_digits() {
        let format = format(FormatFields {
            prefix: Some("P"),
            pattern: Some("#-#-#-#-#"),
            charset: Some("zyx"),
            ..Default::default()
        });
        for _ in 0..100 {
            let (code, fingerprint) = format.generate();
            let decoded = code.as_str()[1..]
                .bytes()
                .rev()
                .filter(|&b| b != b'-')
                .fold(0u64, |n, b| {
                    n * 3 + b"ZYX".iter().position(|&a| a == b).unwrap() as u64
                });
            assert_eq!(decoded, fingerprint, "{code}");
        }
    }

    #[test]
    fn fingerprints_fold_draws_together() {
        // Two characters, 63 digits a draw: 64 random positions take two.
        let format = format(FormatFields {
            code_length: Some(64),
            charset: Some("ab"),
            ..Default::default()
        });
        assert_eq!(format.digits_per_draw, 63);
        let (code, fingerprint) = format.generate();
        let again = code
            .as_str()
            .bytes()
            .map(|b| u64::from(b == b'B'))
            .collect::<Vec<_>>();
        let first = again[..63].iter().rev().fold(0u64, |n, d| n * 2 + d);
        assert_eq!(fingerprint, first.rotate_left(29) ^ again[63]);
    }

    #[test]
    fn every_character_of_a_custom_set_is_about_equally_likely() {
        let format = format(FormatFields {
            code_length: Some(30),
            charset: Some("q7_"),
            ..Default::default()
        });
        let mut counts = [0u32; 3];
        for _ in 0..2_000 {
            for b in format.generate().0.as_str().bytes() {
                counts[b"Q7_".iter().position(|&a| a == b).unwrap()] += 1;
            }
        }
        // 60,000 draws, 20,000 expected per character; a fair generator
        // stays well within 5% (about nine standard deviations).
        for count in counts {
            assert!((19_000..=21_000).contains(&count), "{counts:?}");
        }
    }

    /// Formats that parse, with what each position of their codes may hold.
    fn formats() -> impl Strategy<Value = (CodeFormat, Vec<Vec<u8>>)> {
        let charset = prop_oneof![
            Just("readable".to_string()),
            Just("alphanumeric".to_string()),
            Just("alphabetic".to_string()),
            Just("numbers".to_string()),
            "[a-zA-Z0-9_-]{2,40}",
        ];
        let body = prop_oneof![
            (4u64..=40).prop_map(|length| (None, Some(length))),
            "([a-zA-Z0-9_-]{0,2}#){4,16}[a-zA-Z0-9_-]{0,2}"
                .prop_map(|pattern| (Some(pattern), None)),
        ];
        (charset, body, "[a-zA-Z0-9_-]{0,12}", "[a-zA-Z0-9_-]{0,12}").prop_filter_map(
            "a format that parses",
            |(charset, (pattern, code_length), prefix, suffix)| {
                let format = CodeFormat::parse(FormatFields {
                    code_length,
                    prefix: Some(&prefix),
                    suffix: Some(&suffix),
                    pattern: pattern.as_deref(),
                    charset: Some(&charset),
                })
                .ok()?;
                let random = format.alphabet.to_vec();
                let body = match pattern {
                    Some(pattern) => pattern.into_bytes(),
                    None => vec![RANDOM; code_length? as usize],
                };
                let allowed = [prefix.into_bytes(), body, suffix.into_bytes()]
                    .concat()
                    .into_iter()
                    .map(|b| match b {
                        RANDOM => random.clone(),
                        literal => vec![literal.to_ascii_uppercase()],
                    })
                    .collect();
                Some((format, allowed))
            },
        )
    }

    proptest! {
        #[test]
        fn parse_never_panics(
            code_length in proptest::option::of(any::<u64>()),
            prefix in proptest::option::of("\\PC{0,80}"),
            suffix in proptest::option::of("\\PC{0,80}"),
            pattern in proptest::option::of("\\PC{0,80}"),
            charset in proptest::option::of("\\PC{0,80}"),
        ) {
            let _ = CodeFormat::parse(FormatFields {
                code_length,
                prefix: prefix.as_deref(),
                suffix: suffix.as_deref(),
                pattern: pattern.as_deref(),
                charset: charset.as_deref(),
            });
        }

        #[test]
        fn generated_codes_match_their_format((format, allowed) in formats()) {
            prop_assert!(format.random_positions() >= MIN_GENERATED_LENGTH);
            for _ in 0..20 {
                let (code, _) = format.generate();
                prop_assert_eq!(&CouponCode::parse(code.as_str()).unwrap(), &code);
                let code = code.as_str().as_bytes();
                prop_assert_eq!(code.len(), allowed.len());
                for (b, allowed) in code.iter().zip(&allowed) {
                    prop_assert!(allowed.contains(b), "{} not in {:?}", *b as char, allowed);
                }
            }
        }
    }
}
