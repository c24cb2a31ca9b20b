//! Daily figures of a tenant's redemption log for `GET /stats` and the
//! console's chart: uses consumed, uses rolled back, and the discount they
//! gave and took back, per currency. The events function adds each log
//! row to its day once, from the table's stream (`store::stats`), so the
//! consume transaction writes nothing more and the figures trail the log
//! by the stream's delay (seconds).

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};

use crate::invalid::Invalid;
use crate::redemption::{Redemption, RedemptionKind};

/// The currency of a priced use whose order and coupon named none: ISO
/// 4217's code for "no currency".
pub const NO_CURRENCY: &str = "XXX";
/// Days in a range when the caller names no `from`.
pub const DEFAULT_DAYS: i64 = 30;
/// The most days one request may ask for.
pub const MAX_DAYS: i64 = 366;

/// Discount in one currency, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discounted {
    /// Taken off orders by the day's consumes.
    pub given: u64,
    /// Given back by the day's reversals (of consumes of any day).
    pub reversed: u64,
}

/// One day's figures, or what one log row adds to its day's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayStats {
    pub redemptions: u64,
    pub reversals: u64,
    /// By currency. Only priced uses (an order amount given) have an amount.
    pub discount: BTreeMap<String, Discounted>,
}

impl DayStats {
    /// What `row` adds to the day it was written on.
    pub fn of_row(row: &Redemption) -> DayStats {
        let reversal = row.kind == RedemptionKind::Reversal;
        let mut stats = DayStats {
            redemptions: u64::from(!reversal),
            reversals: u64::from(reversal),
            ..DayStats::default()
        };
        if let Some(pricing) = &row.pricing {
            let currency = pricing.currency.as_deref().unwrap_or(NO_CURRENCY);
            let sum = stats.discount.entry(currency.to_owned()).or_default();
            let minor = pricing.discount_amount.minor();
            if reversal {
                sum.reversed = minor;
            } else {
                sum.given = minor;
            }
        }
        stats
    }

    pub fn add(&mut self, other: &DayStats) {
        self.redemptions += other.redemptions;
        self.reversals += other.reversals;
        for (currency, amount) in &other.discount {
            let sum = self.discount.entry(currency.clone()).or_default();
            sum.given += amount.given;
            sum.reversed += amount.reversed;
        }
    }
}

/// The days a stats request covers, both ends included (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// From the query's `from` and `to` (`2026-11-04`): `to` defaults to
    /// `today`, `from` to the 30 days that end on `to`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<DayRange, Invalid> {
        let to = to.map(|t| day("to", t)).transpose()?.unwrap_or(today);
        let from = match from {
            Some(f) => day("from", f)?,
            None => to - Duration::days(DEFAULT_DAYS - 1),
        };
        if from > to {
            return Err(Invalid(format!(
                "from ({from}) must not be after to ({to})"
            )));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(Invalid(format!(
                "a range covers at most {MAX_DAYS} days; {from} to {to} is {}",
                (to - from).num_days() + 1
            )));
        }
        Ok(DayRange { from, to })
    }

    /// Every day of the range, oldest first.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while(move |d| *d <= self.to)
    }
}

fn day(field: &str, text: &str) -> Result<NaiveDate, Invalid> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1970..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| {
            Invalid(format!(
                "{field} must be a date like 2026-11-04, got {text:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_range_defaults_to_the_thirty_days_ending_today() {
        let range = DayRange::parse(None, None, date("2026-12-03")).unwrap();
        assert_eq!(
            (range.from, range.to),
            (date("2026-11-04"), date("2026-12-03"))
        );
        assert_eq!(range.days().count(), 30);
        let range = DayRange::parse(None, Some("2026-03-01"), date("2026-12-03")).unwrap();
        assert_eq!(range.from, date("2026-01-31"));
    }

    #[test]
    fn a_range_is_ordered_bounded_and_made_of_dates() {
        let today = date("2026-12-03");
        assert!(DayRange::parse(Some("2026-12-04"), Some("2026-12-03"), today).is_err());
        assert!(DayRange::parse(Some("2025-01-01"), Some("2026-01-01"), today).is_ok());
        let too_long = DayRange::parse(Some("2025-01-01"), Some("2026-01-02"), today);
        assert!(too_long.unwrap_err().0.contains("at most 366 days"));
        for bad in [
            "2026-13-01",
            "03-Dec-2026",
            "",
            "2026-12-03T00:00:00Z",
            "0000-01-01",
        ] {
            let err = DayRange::parse(Some(bad), None, today).unwrap_err();
            assert!(err.0.starts_with("from must be a date"), "{bad}: {err}");
        }
        let one = DayRange::parse(Some("2026-12-03"), Some("2026-12-03"), today).unwrap();
        assert_eq!(one.days().collect::<Vec<_>>(), vec![today]);
    }

    #[test]
    fn days_add_up_per_currency() {
        let mut sum = DayStats::default();
        let eur = |given, reversed| Discounted { given, reversed };
        sum.add(&DayStats {
            redemptions: 2,
            reversals: 0,
            discount: BTreeMap::from([("EUR".into(), eur(500, 0))]),
        });
        sum.add(&DayStats {
            redemptions: 0,
            reversals: 1,
            discount: BTreeMap::from([("EUR".into(), eur(0, 250)), ("XXX".into(), eur(0, 5))]),
        });
        assert_eq!((sum.redemptions, sum.reversals), (2, 1));
        assert_eq!(sum.discount["EUR"], eur(500, 250));
        assert_eq!(sum.discount["XXX"], eur(0, 5));
    }
}
