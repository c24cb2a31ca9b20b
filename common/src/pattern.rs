//! The format of generated codes: the characters random positions draw
//! from, and the literal text before, between and after them.

use std::borrow::Cow;

use rand::RngExt;

use crate::code::{
    ALPHABET, CouponCode, DEFAULT_GENERATED_LENGTH, FingerprintSet, MAX_CODE_LENGTH,
    MIN_GENERATED_LENGTH,
};
use crate::invalid::Invalid;

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
    /// Divides by the alphabet's size without a division instruction.
    base: Divisor,
    /// Base-`alphabet` digits one draw yields: the largest `d` with
    /// `alphabet.len()^d` still a u64.
    digits_per_draw: u32,
    /// `alphabet.len()^digits_per_draw`: what a full draw is below.
    draw_range: u64,
    /// The whole code, prefix to suffix, with `RANDOM` at each random position.
    template: Vec<u8>,
    /// Where the random positions are in `template`, first to last.
    random_at: Vec<u8>,
}

/// Named character sets; anything else in `charset` is the set itself.
const NAMED_CHARSETS: [(&str, &[u8]); 4] = [
    ("readable", ALPHABET),
    ("alphanumeric", b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("alphabetic", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("numbers", b"0123456789"),
];

impl CodeFormat {
    pub fn parse(fields: FormatFields<'_>) -> Result<CodeFormat, Invalid> {
        let alphabet = match fields.charset {
            None => Cow::Borrowed(ALPHABET),
            Some(charset) => parse_charset(charset)?,
        };
        let body = match (fields.pattern, fields.code_length) {
            (Some(_), Some(_)) => {
                return Err(Invalid("give pattern or code_length, not both".into()));
            }
            (Some(pattern), None) => parse_pattern(pattern)?,
            (None, length) => {
                let length = length.unwrap_or(DEFAULT_GENERATED_LENGTH as u64);
                if !(MIN_GENERATED_LENGTH as u64..=MAX_CODE_LENGTH as u64).contains(&length) {
                    return Err(Invalid(format!(
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
            return Err(Invalid(format!(
                "prefix, code and suffix together must be at most {MAX_CODE_LENGTH} characters, \
                 got {length}"
            )));
        }
        let template = [prefix, body, suffix].concat();
        let base = alphabet.len() as u64;
        let digits_per_draw = u64::MAX.ilog(base);
        Ok(CodeFormat {
            base: Divisor::new(base),
            digits_per_draw,
            draw_range: base.pow(digits_per_draw),
            random_at: (0..template.len() as u8)
                .filter(|&at| template[at as usize] == RANDOM)
                .collect(),
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
        self.random_at.len()
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
    /// resumed job draws the same codes again. A job's codes must never
    /// change, so neither may what this draws from `rng` nor how it turns a
    /// draw into characters (`job::tests::slot_codes_never_change`).
    pub fn generate_with<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> (CouponCode, u64) {
        let mut buffer = [0u8; MAX_CODE_LENGTH];
        let code = &mut buffer[..self.template.len()];
        code.copy_from_slice(&self.template);
        let mut fingerprint = 0u64;
        for positions in self.random_at.chunks(self.digits_per_draw as usize) {
            let range = if positions.len() == self.digits_per_draw as usize {
                self.draw_range
            } else {
                self.base.get().pow(positions.len() as u32)
            };
            let mut draw = rng.random_range(0..range);
            fingerprint = fingerprint.rotate_left(29) ^ draw;
            // The first position takes the least significant digit.
            for &at in positions {
                let (rest, digit) = self.base.div_rem(draw);
                code[at as usize] = self.alphabet[digit as usize];
                draw = rest;
            }
        }
        let code = std::str::from_utf8(code).expect("code characters are ASCII");
        (CouponCode::from_generated(code.to_owned()), fingerprint)
    }
}

/// Division of a u64 by a fixed divisor of at least 2 as two multiplications
/// instead of a division instruction, which costs tens of cycles: with
/// `m = ceil(2^128 / d)`, `n / d` is the top 64 bits of the 192-bit `m * n`
/// for every 64-bit `n` (Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation", 2019, theorem 1 with F = 128, N = 64). Exact, so codes are
/// the same as with `/` and `%`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Divisor {
    d: u64,
    m: u128,
}

impl Divisor {
    fn new(d: u64) -> Divisor {
        assert!(d >= 2, "a divisor of at least 2");
        Divisor {
            d,
            m: u128::MAX / u128::from(d) + 1,
        }
    }

    fn get(self) -> u64 {
        self.d
    }

    /// `(n / d, n % d)`.
    #[inline]
    fn div_rem(self, n: u64) -> (u64, u64) {
        let n = u128::from(n);
        // m * n / 2^128, in two halves: (m_hi * n + (m_lo * n) / 2^64) / 2^64.
        // m_hi < 2^127 for d >= 2, so the sum stays below 2^128.
        let low = ((self.m as u64 as u128) * n) >> 64;
        let quotient = (((self.m >> 64) * n + low) >> 64) as u64;
        (quotient, n as u64 - quotient * self.d)
    }
}

impl CodeFormat {
    /// `quantity` codes that differ from each other, and a source of more
    /// codes that differ from those and from each other: what `POST /coupon`
    /// writes, and draws again for codes that turn out to exist already.
    ///
    /// The codes are told apart by fingerprint (equal codes have equal
    /// fingerprints; see `generate`). The batch is checked by sorting its
    /// fingerprints, which touches memory in order: for a million codes that
    /// costs half of what inserting them one by one into a hash set does,
    /// whose inserts land at random places of a table far larger than the
    /// cache. A fingerprint seen twice, practically never with twelve or
    /// more random characters, is drawn again for each later code that has it.
    ///
    /// The caller makes sure the format has at least `quantity` codes (the
    /// keyspace policy refuses anything close): otherwise this never returns.
    pub fn distinct(&self, quantity: usize) -> (Vec<CouponCode>, DistinctCodes<'_>) {
        let mut codes = Vec::with_capacity(quantity);
        let mut fingerprints = Vec::with_capacity(quantity);
        for _ in 0..quantity {
            let (code, fingerprint) = self.generate();
            codes.push(code);
            fingerprints.push(fingerprint);
        }
        let mut sorted = fingerprints.clone();
        sorted.sort_unstable();
        let mut fresh = DistinctCodes {
            format: self,
            drawn: Vec::new(),
            extra: FingerprintSet::default(),
            redrawn: 0,
        };
        let repeated: FingerprintSet = sorted
            .windows(2)
            .filter(|pair| pair[0] == pair[1])
            .map(|pair| pair[0])
            .collect();
        fresh.drawn = sorted;
        if !repeated.is_empty() {
            let mut kept = FingerprintSet::default();
            for (code, fingerprint) in codes.iter_mut().zip(fingerprints) {
                if repeated.contains(&fingerprint) && !kept.insert(fingerprint) {
                    fresh.redrawn += 1;
                    *code = fresh.next_code();
                }
            }
        }
        (codes, fresh)
    }
}

/// Fresh codes of one format that differ from a batch drawn before
/// (`CodeFormat::distinct`) and from each other.
pub struct DistinctCodes<'a> {
    format: &'a CodeFormat,
    /// The batch's fingerprints, sorted.
    drawn: Vec<u64>,
    /// Fingerprints of the codes drawn since.
    extra: FingerprintSet,
    redrawn: usize,
}

impl DistinctCodes<'_> {
    /// A code that none of the batch's or this source's earlier codes equals.
    pub fn next_code(&mut self) -> CouponCode {
        loop {
            let (code, fingerprint) = self.format.generate();
            if self.drawn.binary_search(&fingerprint).is_err() && self.extra.insert(fingerprint) {
                return code;
            }
            self.redrawn += 1;
        }
    }

    /// Draws thrown away because a code drawn before had their fingerprint.
    pub fn redrawn(&self) -> usize {
        self.redrawn
    }
}

fn is_code_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A named set, or the characters given: upper-cased, since codes are
/// case-insensitive, and each kept once, in the order first given.
fn parse_charset(charset: &str) -> Result<Cow<'static, [u8]>, Invalid> {
    let charset = charset.trim();
    if let Some((_, set)) = NAMED_CHARSETS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(charset))
    {
        return Ok(Cow::Borrowed(set));
    }
    if !charset.bytes().all(is_code_char) {
        return Err(Invalid(
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
        return Err(Invalid(
            "charset must have at least 2 different characters".into(),
        ));
    }
    Ok(Cow::Owned(set))
}

/// `#` is a random position; everything else is literal.
fn parse_pattern(pattern: &str) -> Result<Vec<u8>, Invalid> {
    let pattern = pattern.trim();
    if !pattern.bytes().all(|b| b == RANDOM || is_code_char(b)) {
        return Err(Invalid(
            "pattern may contain only '#' (a random character), letters, digits, '-' and '_'"
                .into(),
        ));
    }
    let positions = pattern.bytes().filter(|&b| b == RANDOM).count();
    if positions < MIN_GENERATED_LENGTH {
        return Err(Invalid(format!(
            "pattern must have at least {MIN_GENERATED_LENGTH} '#' (random characters), \
             got {positions}"
        )));
    }
    Ok(pattern.bytes().map(|b| b.to_ascii_uppercase()).collect())
}

fn parse_literal(field: &str, text: &str) -> Result<Vec<u8>, Invalid> {
    let text = text.trim();
    if !text.bytes().all(is_code_char) {
        return Err(Invalid(format!(
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
            Err(Invalid(message)) => message,
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

    /// Two characters and four positions: sixteen codes, so a batch of
    /// sixteen repeats fingerprints and must draw again until it has them all.
    #[test]
    fn distinct_codes_fill_a_tiny_keyspace_exactly() {
        let format = format(FormatFields {
            code_length: Some(4),
            charset: Some("ab"),
            ..Default::default()
        });
        let (codes, fresh) = format.distinct(16);
        let all: std::collections::BTreeSet<_> = codes.iter().map(CouponCode::as_str).collect();
        assert_eq!(all.len(), 16, "{codes:?}");
        assert!(fresh.redrawn() > 0);

        let (mut codes, mut fresh) = format.distinct(10);
        codes.extend((0..6).map(|_| fresh.next_code()));
        let all: std::collections::BTreeSet<_> = codes.iter().map(CouponCode::as_str).collect();
        assert_eq!(all.len(), 16, "{codes:?}");
    }

    #[test]
    fn distinct_codes_of_an_empty_batch_still_draw() {
        let format = format(FormatFields::default());
        let (codes, mut fresh) = format.distinct(0);
        assert!(codes.is_empty());
        assert_eq!(fresh.next_code().as_str().len(), 8);
    }

    #[test]
    fn divisor_divides_like_the_instruction_at_the_edges() {
        for d in (2..=70).chain([1 << 32, u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let divisor = Divisor::new(d);
            for n in [
                0,
                1,
                d - 1,
                d,
                d.saturating_add(1),
                u64::MAX - 1,
                u64::MAX,
                31u64.pow(12) - 1,
            ] {
                assert_eq!(divisor.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }

    proptest! {
        #[test]
        fn distinct_codes_differ_and_match_their_format(
            charset in "[a-c0-2]{2,6}",
            length in 4u64..=6,
            share in 0.0f64..=1.0,
        ) {
            // A charset of one character repeated does not parse.
            let format = CodeFormat::parse(FormatFields {
                code_length: Some(length),
                charset: Some(&charset),
                ..Default::default()
            });
            prop_assume!(format.is_ok());
            let format = format.unwrap();
            let keyspace = (format.alphabet_len() as u64).pow(length as u32);
            let quantity = ((keyspace as f64 * share) as usize).min(2_000);
            let (mut codes, mut fresh) = format.distinct(quantity);
            if (quantity as u64) < keyspace {
                codes.push(fresh.next_code());
            }
            let all: std::collections::BTreeSet<_> = codes.iter().map(CouponCode::as_str).collect();
            prop_assert_eq!(all.len(), codes.len());
            for code in &codes {
                prop_assert_eq!(code.as_str().len(), length as usize);
                prop_assert!(code.as_str().bytes().all(|b| format.alphabet.contains(&b)));
            }
        }

        #[test]
        fn divisor_divides_like_the_instruction(d in 2u64.., n: u64, small in 2u64..=64) {
            prop_assert_eq!(Divisor::new(d).div_rem(n), (n / d, n % d));
            prop_assert_eq!(Divisor::new(small).div_rem(n), (n / small, n % small));
        }

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
