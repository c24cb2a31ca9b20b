//! Exact amounts: decimal text with at most two decimals, held as integers.

use std::fmt;

use crate::invalid::Invalid;

/// Largest amount accepted, in minor units (one billion major units).
const MAX_MINOR: u64 = 100_000_000_000;

/// An amount in minor units (cents). Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money(u64);

/// A percentage in hundredths of a percent (12.5% is 1250), 0 < p <= 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent(u32);

impl Money {
    pub fn parse(field: &str, text: &str) -> Result<Money, Invalid> {
        let minor = parse_hundredths(field, text)?;
        if minor == 0 || minor > MAX_MINOR {
            return Err(Invalid(format!(
                "{field} must be greater than 0 and at most {}",
                Money(MAX_MINOR)
            )));
        }
        Ok(Money(minor))
    }

    pub fn from_minor(minor: u64) -> Money {
        Money(minor)
    }

    pub fn minor(self) -> u64 {
        self.0
    }
}

impl Percent {
    pub fn parse(field: &str, text: &str) -> Result<Percent, Invalid> {
        let hundredths = parse_hundredths(field, text)?;
        if hundredths == 0 || hundredths > 10_000 {
            return Err(Invalid(format!(
                "{field} must be greater than 0 and at most 100"
            )));
        }
        Ok(Percent(hundredths as u32))
    }

    pub fn from_hundredths(hundredths: u32) -> Percent {
        Percent(hundredths)
    }

    pub fn hundredths(self) -> u32 {
        self.0
    }

    /// This percentage of `amount`, rounded half to even (banker's
    /// rounding, so ties do not drift one way over many orders). Never more
    /// than `amount`, since a percentage is at most 100.
    pub fn of(self, amount: Money) -> Money {
        let exact = u128::from(amount.0) * u128::from(self.0);
        let (quotient, remainder) = (exact / 10_000, exact % 10_000);
        let round_up = remainder > 5_000 || (remainder == 5_000 && quotient % 2 == 1);
        // Fits for any Percent that parsed; one built above 100% with
        // `from_hundredths` saturates instead of wrapping.
        Money(u64::try_from(quotient + u128::from(round_up)).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// `"20"`, `"20.5"`, `"20.05"` -> 2000, 2050, 2005. No sign, no exponent,
/// at most two decimals, so nothing is rounded.
fn parse_hundredths(field: &str, text: &str) -> Result<u64, Invalid> {
    let invalid = || {
        Invalid(format!(
            "{field} must be a non-negative decimal with at most two decimals, got {text:?}"
        ))
    };
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(fraction)) || fraction.len() > 2 {
        return Err(invalid());
    }
    let whole: u64 = whole.parse().map_err(|_| invalid())?;
    let fraction: u64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    Ok(whole * 100 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exact_amounts() {
        for (text, minor) in [("20", 2000), ("20.5", 2050), ("20.05", 2005), ("0.01", 1)] {
            assert_eq!(Money::parse("amount", text).unwrap().minor(), minor);
        }
        assert_eq!(Money::from_minor(2005).to_string(), "20.05");
    }

    #[test]
    fn rejects_inexact_or_out_of_range() {
        for text in [
            "",
            "-1",
            "0",
            "1.234",
            "1e3",
            "NaN",
            ".5",
            "5.",
            "1,5",
            "99999999999999",
        ] {
            assert!(
                Money::parse("amount", text).is_err(),
                "{text:?} was accepted"
            );
        }
    }

    #[test]
    fn percent_is_bounded_by_100() {
        assert_eq!(Percent::parse("p", "12.5").unwrap().hundredths(), 1250);
        assert_eq!(Percent::parse("p", "100").unwrap().hundredths(), 10_000);
        assert!(Percent::parse("p", "100.01").is_err());
        assert!(Percent::parse("p", "0").is_err());
    }

    #[test]
    fn percent_of_rounds_half_to_even() {
        for (percent, amount, expected) in [
            ("33.33", "0.01", 0),
            ("50", "0.01", 0),
            ("50", "0.03", 2),
            ("12.5", "1.00", 12),
            ("12.5", "3.00", 38),
            ("100", "19.99", 1999),
            ("33.33", "100.00", 3333),
            ("0.01", "1000000000.00", 10_000_000),
        ] {
            let of = Percent::parse("p", percent)
                .unwrap()
                .of(Money::parse("m", amount).unwrap());
            assert_eq!(of, Money::from_minor(expected), "{percent}% of {amount}");
        }
        let over = Percent::from_hundredths(u32::MAX).of(Money::from_minor(u64::MAX));
        assert_eq!(over.minor(), u64::MAX);
    }

    proptest! {
        #[test]
        fn percent_of_is_the_exact_share_rounded_half_to_even(
            minor in any::<u64>(),
            hundredths in 1u32..=10_000,
        ) {
            let of = Percent::from_hundredths(hundredths).of(Money::from_minor(minor)).minor();
            prop_assert!(of <= minor);
            // The reference splits the amount into whole 10,000s and the
            // rest, so only the rest's share needs a remainder.
            let (whole, rest) = (minor / 10_000, minor % 10_000);
            let share = u128::from(rest) * u128::from(hundredths);
            let floor = u128::from(whole) * u128::from(hundredths) + share / 10_000;
            let expected = match (2 * (share % 10_000)).cmp(&10_000) {
                std::cmp::Ordering::Less => floor,
                std::cmp::Ordering::Greater => floor + 1,
                std::cmp::Ordering::Equal => floor + floor % 2,
            };
            prop_assert_eq!(u128::from(of), expected);
        }

        #[test]
        fn display_round_trips(minor in 1u64..MAX_MINOR) {
            let money = Money::from_minor(minor);
            prop_assert_eq!(Money::parse("m", &money.to_string()).unwrap(), money);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,30}") {
            let _ = Money::parse("m", &text);
            let _ = Percent::parse("p", &text);
        }
    }
}
