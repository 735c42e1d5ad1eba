//! The day a document is made on, as its reader sees it: `{Date}` and the
//! numbering's date parts and resets are in the time zone of the item's
//! responsible (the directory keeps each user's zone). There is no
//! tenant-wide zone setting; an unknown responsible (or an unreadable zone)
//! falls back to UTC.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::model::User;

/// The zone documents of an item of `responsible` are dated in.
pub fn document_zone(responsible: Option<&User>) -> Tz {
    responsible
        .and_then(|u| u.time_zone.parse().ok())
        .unwrap_or(Tz::UTC)
}

/// The local date of `at` for `responsible` (UTC without one).
pub fn local_day(at: DateTime<Utc>, responsible: Option<&User>) -> NaiveDate {
    at.with_timezone(&document_zone(responsible)).date_naive()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn user(zone: &str) -> User {
        serde_json::from_value(serde_json::json!({
            "id": "u-1", "name": "U", "time_zone": zone
        }))
        .unwrap()
    }

    #[test]
    fn the_day_is_the_responsibles_then_utc() {
        // 31 Dec 22:30 UTC is already 1 Jan in Moscow (UTC+3).
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 22, 30, 0).unwrap();
        let jan = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let dec = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(local_day(at, Some(&user("Europe/Moscow"))), jan);
        assert_eq!(local_day(at, Some(&user("America/New_York"))), dec);
        assert_eq!(local_day(at, None), dec);
        assert_eq!(local_day(at, Some(&user("Mars/Olympus"))), dec);
    }
}
