//! The period of a report: `from` and `to` (dates `YYYY-MM-DD` or RFC 3339
//! times), an optional time zone `tz` (IANA name, default `UTC`), turned
//! into the UTC days the aggregates are kept by.
//!
//! Aggregates are per UTC day, so a report covers whole UTC days: every UTC
//! day that overlaps the asked period (a date in `tz` runs from its local
//! midnight to the next). With `tz` = UTC (the default) that is exactly the
//! dates asked. The answer names the UTC days it covers.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{EngineError, Result};

/// Longest period of one report, in days.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// Default period when `from` and `to` are not given: the last 30 days.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;

/// The UTC days of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// First UTC day.
    pub from: NaiveDate,
    /// Last UTC day (inclusive).
    pub to: NaiveDate,
    /// The time zone the period was given in.
    pub tz: String,
}

fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A midnight that falls into a DST gap starts at the first instant after it.
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
}

/// `(start, end)` instants of a `from`/`to` value; a date covers its whole
/// local day.
fn instants(field: &str, value: &str, tz: Tz) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let start = local_midnight(tz, d);
        let next = d.succ_opt().map_or(start, |n| local_midnight(tz, n));
        return Ok((start, next - Duration::milliseconds(1)));
    }
    match DateTime::parse_from_rfc3339(value) {
        Ok(t) => {
            let t = t.with_timezone(&Utc);
            Ok((t, t))
        }
        Err(_) => Err(EngineError::invalid(
            field,
            format!("'{value}' is not a date (YYYY-MM-DD) or an RFC 3339 time"),
        )),
    }
}

impl Period {
    /// Parse and check a period; `today` (UTC) is the default `to`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        tz: Option<&str>,
        today: NaiveDate,
    ) -> Result<Period> {
        let tz_name = tz.filter(|s| !s.is_empty()).unwrap_or("UTC");
        let zone: Tz = tz_name.parse().map_err(|_| {
            EngineError::invalid("tz", format!("'{tz_name}' is not an IANA time zone"))
        })?;
        let from = from.filter(|s| !s.is_empty());
        let to = to.filter(|s| !s.is_empty());
        let to_day = match to {
            Some(v) => instants("to", v, zone)?.1.date_naive(),
            None => today,
        };
        let from_day = match from {
            Some(v) => instants("from", v, zone)?.0.date_naive(),
            None => to_day - Duration::days(DEFAULT_PERIOD_DAYS - 1),
        };
        if from_day > to_day {
            return Err(EngineError::invalid("from", "must not be after 'to'"));
        }
        let days = (to_day - from_day).num_days() + 1;
        if days > MAX_PERIOD_DAYS {
            return Err(EngineError::invalid(
                "to",
                format!("the period is {days} days; a report covers at most {MAX_PERIOD_DAYS}"),
            ));
        }
        Ok(Period {
            from: from_day,
            to: to_day,
            tz: tz_name.to_string(),
        })
    }

    /// Every UTC day of the period, in order.
    pub fn days(&self) -> Vec<NaiveDate> {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn field_of(e: EngineError) -> String {
        match e {
            EngineError::Unprocessable { details } => details[0].field.clone(),
            other => panic!("not a 422: {other}"),
        }
    }

    #[test]
    fn dates_times_and_zones_become_utc_days() {
        let today = d("2026-12-02");
        let p = Period::parse(Some("2026-11-01"), Some("2026-11-30"), None, today).unwrap();
        assert_eq!(
            (p.from, p.to, p.days().len()),
            (d("2026-11-01"), d("2026-11-30"), 30)
        );
        let p = Period::parse(
            Some("2026-11-01T23:30:00+03:00"),
            Some("2026-11-02T01:00:00Z"),
            None,
            today,
        )
        .unwrap();
        assert_eq!((p.from, p.to), (d("2026-11-01"), d("2026-11-02")));
        // A Moscow date starts at 21:00 UTC the day before.
        let p = Period::parse(
            Some("2026-11-02"),
            Some("2026-11-02"),
            Some("Europe/Moscow"),
            today,
        )
        .unwrap();
        assert_eq!((p.from, p.to), (d("2026-11-01"), d("2026-11-02")));
        let p = Period::parse(None, None, None, today).unwrap();
        assert_eq!((p.from, p.to), (d("2026-11-03"), today));
    }

    #[test]
    fn bad_periods_name_their_field() {
        let today = d("2026-12-02");
        let e = |f, t, z| field_of(Period::parse(f, t, z, today).unwrap_err());
        assert_eq!(e(Some("2026-11-30"), Some("2026-11-01"), None), "from");
        assert_eq!(e(Some("2025-01-01"), Some("2026-11-01"), None), "to");
        assert_eq!(e(Some("yesterday"), None, None), "from");
        assert_eq!(e(None, Some("2026-13-01"), None), "to");
        assert_eq!(e(None, None, Some("Mars/Olympus")), "tz");
        assert!(Period::parse(Some("2025-11-01"), Some("2026-11-01"), None, today).is_ok());
    }
}
