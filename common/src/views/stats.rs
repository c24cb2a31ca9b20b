//! `GET /stats`: a tenant's figures per day and for the whole range.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::money::Money;
use crate::stats::{DayRange, DayStats, Discounted};

#[derive(Serialize)]
pub struct StatsView {
    /// Every day of the range, oldest first; a day without figures is zeros.
    days: Vec<DayStatsView>,
    from: NaiveDate,
    object: &'static str,
    to: NaiveDate,
    totals: FiguresView,
}

#[derive(Serialize)]
struct DayStatsView {
    date: NaiveDate,
    #[serde(flatten)]
    figures: FiguresView,
}

#[derive(Serialize)]
struct FiguresView {
    discount: Vec<DiscountView>,
    redemptions: u64,
    reversals: u64,
}

/// Amounts as the API writes money everywhere ("12.50") and in minor units.
#[derive(Serialize)]
struct DiscountView {
    currency: String,
    given: String,
    given_minor: u64,
    reversed: String,
    reversed_minor: u64,
}

impl StatsView {
    pub fn of(range: DayRange, days: &BTreeMap<NaiveDate, DayStats>) -> StatsView {
        let mut totals = DayStats::default();
        let none = DayStats::default();
        let days = range
            .days()
            .map(|date| {
                let stats = days.get(&date).unwrap_or(&none);
                totals.add(stats);
                DayStatsView {
                    date,
                    figures: FiguresView::of(stats),
                }
            })
            .collect();
        StatsView {
            days,
            from: range.from,
            object: "stats",
            to: range.to,
            totals: FiguresView::of(&totals),
        }
    }
}

impl FiguresView {
    fn of(stats: &DayStats) -> FiguresView {
        FiguresView {
            discount: stats
                .discount
                .iter()
                .map(|(currency, amount)| DiscountView::of(currency, *amount))
                .collect(),
            redemptions: stats.redemptions,
            reversals: stats.reversals,
        }
    }
}

impl DiscountView {
    fn of(currency: &str, amount: Discounted) -> DiscountView {
        DiscountView {
            currency: currency.to_owned(),
            given: Money::from_minor(amount.given).to_string(),
            given_minor: amount.given,
            reversed: Money::from_minor(amount.reversed).to_string(),
            reversed_minor: amount.reversed,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_day_of_the_range_is_answered_and_summed() {
        let range = DayRange::parse(
            Some("2026-12-01"),
            Some("2026-12-03"),
            "2026-12-03".parse().unwrap(),
        )
        .unwrap();
        let busy = DayStats {
            redemptions: 3,
            reversals: 1,
            discount: BTreeMap::from([(
                "EUR".into(),
                Discounted {
                    given: 1250,
                    reversed: 250,
                },
            )]),
        };
        let days = BTreeMap::from([("2026-12-02".parse().unwrap(), busy)]);
        let body = serde_json::to_value(StatsView::of(range, &days)).unwrap();
        let eur = json!([{"currency": "EUR", "given": "12.50", "given_minor": 1250, "reversed": "2.50", "reversed_minor": 250}]);
        assert_eq!(
            body,
            json!({
                "object": "stats", "from": "2026-12-01", "to": "2026-12-03",
                "days": [
                    {"date": "2026-12-01", "redemptions": 0, "reversals": 0, "discount": []},
                    {"date": "2026-12-02", "redemptions": 3, "reversals": 1, "discount": eur},
                    {"date": "2026-12-03", "redemptions": 0, "reversals": 0, "discount": []},
                ],
                "totals": {"redemptions": 3, "reversals": 1, "discount": eur},
            })
        );
    }
}
