//! The date forms clients send: `15-Jan-2030` (the original API's), ISO
//! `2030-01-15` and RFC 3339.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::invalid::Invalid;

/// An instant from `15-Jan-2030`, `2030-01-15` or RFC 3339. A date without
/// a time means the end of that day (23:59:59 UTC), as the API contract
/// says for both `expiry_date` and `starts_at`.
pub fn parse_instant(field: &str, text: &str) -> Result<DateTime<Utc>, Invalid> {
    let text = text.trim();
    let parsed = if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        Some(instant.with_timezone(&Utc))
    } else {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(text, "%d-%b-%Y"))
            .ok()
            .map(|day| {
                Utc.from_utc_datetime(
                    &day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default()),
                )
            })
    };
    match parsed {
        Some(instant) if (1970..=9999).contains(&instant.year()) => Ok(instant),
        _ => Err(Invalid(format!(
            "{field} must be a date like 15-Jan-2030, 2030-01-15 or 2030-01-15T12:00:00Z, got {text:?}"
        ))),
    }
}

/// Like [`parse_instant`], but a date without a time means the start of that
/// day: the lower end of a range such as an export's `from`.
pub fn parse_start(field: &str, text: &str) -> Result<DateTime<Utc>, Invalid> {
    let instant = parse_instant(field, text)?;
    if DateTime::parse_from_rfc3339(text.trim()).is_ok() {
        Ok(instant)
    } else {
        Ok(Utc.from_utc_datetime(&instant.date_naive().and_time(NaiveTime::MIN)))
    }
}

/// Like [`parse_instant`], for the upper end of a range: it includes the
/// whole of its last second (times are kept in milliseconds).
pub fn parse_end(field: &str, text: &str) -> Result<DateTime<Utc>, Invalid> {
    let end = parse_instant(field, text)?;
    if end.timestamp_subsec_millis() == 0 {
        return Ok(end + chrono::Duration::milliseconds(999));
    }
    Ok(end)
}

/// Now, to the millisecond: the precision times are stored with, so what a
/// write answers is what a later read shows.
pub fn now() -> DateTime<Utc> {
    from_millis(Utc::now().timestamp_millis())
}

/// The time the request handlers go by: the system's, to the millisecond.
/// Tests move it forward (past a reservation's or a coupon's expiry)
/// without waiting; nothing else ever does.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        from_millis(Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock `by` into the future.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

/// Milliseconds since the epoch, as stored in DynamoDB.
pub fn to_millis(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

pub fn from_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// RFC 3339 in UTC with a `Z`, as every response shows times.
pub fn format(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_three_forms() {
        let end = |t| format(parse_instant("d", t).unwrap());
        assert_eq!(end("15-Jan-2030"), "2030-01-15T23:59:59Z");
        assert_eq!(end("2030-01-15"), "2030-01-15T23:59:59Z");
        assert_eq!(end("2030-01-15T10:00:00+02:00"), "2030-01-15T08:00:00Z");
    }

    #[test]
    fn rejects_nonsense() {
        for text in [
            "",
            "tomorrow",
            "31-Feb-2030",
            "2030-13-01",
            "1969-12-31",
            "15/01/2030",
        ] {
            assert!(parse_instant("d", text).is_err(), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_instant("d", &text);
        }

        #[test]
        fn formatted_instants_parse_back(secs in 0i64..253_402_300_799) {
            let instant = DateTime::from_timestamp(secs, 0).unwrap();
            prop_assert_eq!(parse_instant("d", &format(instant)).unwrap(), instant);
        }
    }
}
