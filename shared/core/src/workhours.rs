//! Working calendar of a user: working days and hours in the user's time zone,
//! plus individual days off.
//!
//! All arithmetic happens on real instants (`DateTime<Utc>`); local times are
//! only used to find where each day's working period starts and ends. Local
//! times that do not exist (the spring-forward gap) map to the first valid
//! instant after them, ambiguous ones (the fall-back overlap) to the earliest.
//!
//! Searches step day by day and are capped: if a calendar has no working time
//! at all for [`SEARCH_DAYS`] consecutive days (e.g. every working day is a
//! day off, or the hours are invalid), the calendar is ignored and the plain
//! instant is returned (see each method).

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How many consecutive days without any working time a search looks through
/// before giving up on the calendar (three years).
pub const SEARCH_DAYS: u32 = 3 * 366;

/// Absolute cap on the days [`WorkCalendar::add_working`] and
/// [`WorkCalendar::add_working_days`] walk through (400 years).
const MAX_SCAN_DAYS: u32 = 146_097;

/// A day of the week, serialized as `"mon"` … `"sun"`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl From<Weekday> for Day {
    fn from(w: Weekday) -> Self {
        match w {
            Weekday::Mon => Day::Mon,
            Weekday::Tue => Day::Tue,
            Weekday::Wed => Day::Wed,
            Weekday::Thu => Day::Thu,
            Weekday::Fri => Day::Fri,
            Weekday::Sat => Day::Sat,
            Weekday::Sun => Day::Sun,
        }
    }
}

impl From<Day> for Weekday {
    fn from(d: Day) -> Self {
        match d {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

/// Errors of [`WorkingHours::validate`]; each message starts with the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkHoursError {
    /// `start` is not strictly before `end` (overnight shifts are not supported).
    #[error("working_hours.start: must be before working_hours.end (got {start}–{end})")]
    StartNotBeforeEnd {
        /// The configured start.
        start: NaiveTime,
        /// The configured end.
        end: NaiveTime,
    },
    /// No working day is listed.
    #[error("working_hours.days: at least one working day is required")]
    NoDays,
}

impl WorkHoursError {
    /// The path of the offending field, e.g. `working_hours.start`.
    pub fn field(&self) -> &'static str {
        match self {
            WorkHoursError::StartNotBeforeEnd { .. } => "working_hours.start",
            WorkHoursError::NoDays => "working_hours.days",
        }
    }
}

/// Weekly working hours: the same `[start, end]` on each listed day.
///
/// JSON: `{"days": ["mon", …], "start": "09:00", "end": "18:00"}`; times are
/// written as `"HH:MM"` (or `"HH:MM:SS"` when they have seconds) and read from
/// either form. `"24:00"` is the end of the day (ISO 8601), so `"end":
/// "24:00"` works until midnight; it is kept as [`END_OF_DAY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkingHours {
    /// Working days of the week.
    pub days: Vec<Day>,
    /// Local start of the working day.
    #[serde(with = "hhmm")]
    #[schemars(
        with = "String",
        regex(pattern = r"^([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
    )]
    pub start: NaiveTime,
    /// Local end of the working day (inclusive).
    #[serde(with = "hhmm")]
    #[schemars(
        with = "String",
        regex(pattern = r"^([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")
    )]
    pub end: NaiveTime,
}

impl Default for WorkingHours {
    /// Monday to Friday, 09:00–18:00.
    fn default() -> Self {
        WorkingHours {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
            end: NaiveTime::from_hms_opt(18, 0, 0).expect("valid time"),
        }
    }
}

impl WorkingHours {
    /// Checks that `start < end` and that at least one day is listed.
    pub fn validate(&self) -> Result<(), WorkHoursError> {
        if self.days.is_empty() {
            return Err(WorkHoursError::NoDays);
        }
        if self.start >= self.end {
            return Err(WorkHoursError::StartNotBeforeEnd {
                start: self.start,
                end: self.end,
            });
        }
        Ok(())
    }

    /// Whether `w` is one of the working days.
    pub fn includes(&self, w: Weekday) -> bool {
        self.days.contains(&Day::from(w))
    }
}

/// `"24:00"`: the last representable instant of a day (a `NaiveTime` has
/// no 24:00). A working day that ends at it ends at the next midnight.
pub const END_OF_DAY: NaiveTime = match NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999) {
    Some(t) => t,
    None => panic!("valid time"),
};

/// Serde for times as `"HH:MM"` / `"HH:MM:SS"` (and `"24:00"`).
mod hhmm {
    use chrono::{NaiveTime, Timelike};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::END_OF_DAY;

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        if *t == END_OF_DAY {
            return s.serialize_str("24:00");
        }
        let fmt = if t.second() == 0 { "%H:%M" } else { "%H:%M:%S" };
        s.collect_str(&t.format(fmt))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        if s == "24:00" || s == "24:00:00" {
            return Ok(END_OF_DAY);
        }
        NaiveTime::parse_from_str(&s, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&s, "%H:%M:%S"))
            .map_err(|_| {
                D::Error::custom(format!(
                    "invalid time {s:?}, expected \"HH:MM\" (00:00 to 24:00)"
                ))
            })
    }
}

/// The working calendar of one user: time zone, weekly hours and days off.
///
/// The hours are not required to be valid (see [`WorkingHours::validate`]):
/// a day whose start is after its end simply has no working time.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkCalendar {
    /// The user's time zone; all local times are in it.
    pub tz: Tz,
    /// Weekly working hours.
    pub hours: WorkingHours,
    /// Individual non-working dates (local), skipped like weekends.
    pub days_off: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    /// Builds a calendar.
    pub fn new(tz: Tz, hours: WorkingHours, days_off: impl IntoIterator<Item = NaiveDate>) -> Self {
        WorkCalendar {
            tz,
            hours,
            days_off: days_off.into_iter().collect(),
        }
    }

    /// Whether `d` is a working weekday and not a day off.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.hours.includes(d.weekday()) && !self.days_off.contains(&d)
    }

    /// Whether `t` falls within the working hours of a working day, both ends
    /// included.
    pub fn is_inside(&self, t: DateTime<Utc>) -> bool {
        self.period(self.local_date(t))
            .is_some_and(|(s, e)| s <= t && t <= e)
    }

    /// `t` itself if it is inside working hours, otherwise the start of the
    /// next working period. If there is none within [`SEARCH_DAYS`] days,
    /// returns `t` unchanged (the calendar is ignored).
    pub fn next_working_instant(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let mut day = self.local_date(t);
        for _ in 0..=SEARCH_DAYS {
            if let Some((s, e)) = self.period(day)
                && t <= e
            {
                return t.max(s);
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        t
    }

    /// The instant at which `d` of working time has elapsed since `start`,
    /// counting only time inside working hours. If it runs out exactly at the
    /// end of a working day, the result is that end. A zero or negative `d`
    /// gives [`Self::next_working_instant`] of `start`.
    ///
    /// Falls back to `start + d` if the calendar has no working time for
    /// [`SEARCH_DAYS`] consecutive days or cannot absorb `d` within 400 years.
    pub fn add_working(&self, start: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
        let mut remaining = d.max(Duration::zero());
        let mut cursor = start;
        let mut day = self.local_date(start);
        let mut idle = 0;
        for _ in 0..MAX_SCAN_DAYS {
            if let Some((s, e)) = self.period(day)
                && cursor <= e
            {
                let from = cursor.max(s);
                let available = e - from;
                if remaining <= available {
                    return from + remaining;
                }
                remaining -= available;
                cursor = e;
                if available > Duration::zero() {
                    idle = 0;
                }
            }
            idle += 1;
            if idle > SEARCH_DAYS {
                break;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        saturating_add(start, d.max(Duration::zero()))
    }

    /// Advances `n` working days from the local date of `start`, keeping the
    /// local time of day, then returns [`Self::next_working_instant`] of that.
    ///
    /// Days are calendar days in the calendar's zone: the same wall-clock time
    /// across a daylight-saving switch (see [`add_calendar_days`]), never
    /// earlier than `n` calendar days later. `n == 0` gives
    /// `next_working_instant(start)`. Falls back to `n` calendar days if there
    /// is no working day for [`SEARCH_DAYS`] consecutive days.
    pub fn add_working_days(&self, start: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let plain = add_calendar_days(start, n.into(), self.tz);
        if n == 0 {
            return self.next_working_instant(start);
        }
        let local = start.with_timezone(&self.tz).naive_local();
        let mut day = local.date();
        let mut left = n;
        let mut idle = 0;
        for _ in 0..MAX_SCAN_DAYS {
            day = match day.succ_opt() {
                Some(next) => next,
                None => return plain,
            };
            if self.is_working_day(day) {
                left -= 1;
                idle = 0;
                if left == 0 {
                    let target = self.resolve(day.and_time(local.time()));
                    return self.next_working_instant(target.max(plain));
                }
            } else {
                idle += 1;
                if idle > SEARCH_DAYS {
                    break;
                }
            }
        }
        plain
    }

    /// The local date of `t`.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// The working period `[start, end]` of local date `d`, if it is a working
    /// day with a non-empty (possibly zero-length) period.
    fn period(&self, d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(d) {
            return None;
        }
        let s = self.resolve(d.and_time(self.hours.start));
        let e = match (self.hours.end == END_OF_DAY, d.succ_opt()) {
            (true, Some(next)) => self.resolve(next.and_time(NaiveTime::MIN)),
            _ => self.resolve(d.and_time(self.hours.end)),
        };
        (s <= e).then_some((s, e))
    }

    /// The instant of local time `local`: the earliest if ambiguous, the first
    /// valid instant after it if it falls into a gap.
    fn resolve(&self, local: NaiveDateTime) -> DateTime<Utc> {
        resolve_local(self.tz, local)
    }
}

/// The instant of local time `local` in `tz`: the earliest if ambiguous, the
/// first valid instant after it if it falls into a gap.
pub(crate) fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => after_gap(tz, local),
    }
}

/// The first instant whose local time in `tz` is at or after `local` (a time
/// inside a gap): binary search on whole seconds, since transitions happen
/// on whole seconds and UTC offsets lie within ±15 hours.
fn after_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    const SPAN: i64 = 15 * 3600;
    let local_at =
        |secs: i64| DateTime::from_timestamp(secs, 0).map(|u| u.with_timezone(&tz).naive_local());
    let guess = local.and_utc().timestamp();
    // Invariant: local time at `lo` is before `local`, at `hi` not before.
    let (mut lo, mut hi) = (guess - SPAN, guess + SPAN);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match local_at(mid) {
            Some(l) if l >= local => hi = mid,
            Some(_) => lo = mid,
            None => return local.and_utc(),
        }
    }
    DateTime::from_timestamp(hi, 0).unwrap_or_else(|| local.and_utc())
}

/// `start` plus `days` calendar days (negative: minus) in time zone `tz`: the
/// same local wall-clock time on the local date `days` later, so a day across
/// a daylight-saving switch is 23 or 25 hours long. A local time that does not
/// exist on the target date (spring-forward gap) becomes the first instant
/// after the gap; an ambiguous one (fall-back overlap) the earlier instant.
/// Saturates at the ends of the representable range.
pub fn add_calendar_days(start: DateTime<Utc>, days: i64, tz: Tz) -> DateTime<Utc> {
    let plain = saturating_add(start, Duration::days(days));
    let local = start.with_timezone(&tz).naive_local();
    let target = if days >= 0 {
        local.checked_add_days(chrono::Days::new(days.unsigned_abs()))
    } else {
        local.checked_sub_days(chrono::Days::new(days.unsigned_abs()))
    };
    target.map_or(plain, |t| resolve_local(tz, t))
}

/// `t + d`, saturating at the ends of the representable range.
pub(crate) fn saturating_add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A UTC instant.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// A (non-ambiguous, existing) local time in `tz`, as UTC.
    fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn cal(tz: Tz) -> WorkCalendar {
        WorkCalendar::new(tz, WorkingHours::default(), [])
    }

    const MSK: Tz = chrono_tz::Europe::Moscow;
    const BER: Tz = chrono_tz::Europe::Berlin;
    const NY: Tz = chrono_tz::America::New_York;

    #[test]
    fn day_weekday_round_trip() {
        for w in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ] {
            assert_eq!(Weekday::from(Day::from(w)), w);
        }
        assert_eq!(Day::from(Weekday::Wed), Day::Wed);
    }

    #[test]
    fn working_hours_serde() {
        let h = WorkingHours::default();
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "18:00"})
        );
        assert_eq!(serde_json::from_value::<WorkingHours>(json).unwrap(), h);

        let h: WorkingHours = serde_json::from_str(
            r#"{"days": ["sat","sun"], "start": "08:30:15", "end": "12:00:00"}"#,
        )
        .unwrap();
        assert_eq!(h.days, vec![Day::Sat, Day::Sun]);
        assert_eq!(h.start, NaiveTime::from_hms_opt(8, 30, 15).unwrap());
        assert_eq!(h.end, time(12, 0));
        assert_eq!(serde_json::to_value(&h).unwrap()["start"], "08:30:15");
        assert_eq!(serde_json::to_value(&h).unwrap()["end"], "12:00");

        for bad in [
            r#"{"days": ["mon"], "start": "25:00", "end": "18:00"}"#,
            r#"{"days": ["mon"], "start": "9am", "end": "18:00"}"#,
            r#"{"days": ["monday"], "start": "09:00", "end": "18:00"}"#,
            r#"{"days": ["mon"], "start": "09:00"}"#,
        ] {
            assert!(serde_json::from_str::<WorkingHours>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_working_day_may_end_at_24_00() {
        let h: WorkingHours =
            serde_json::from_str(r#"{"days": ["mon","tue"], "start": "20:00", "end": "24:00"}"#)
                .unwrap();
        assert_eq!(h.end, END_OF_DAY);
        assert_eq!(h.validate(), Ok(()));
        assert_eq!(serde_json::to_value(&h).unwrap()["end"], "24:00");
        let c = WorkCalendar::new(MSK, h, []);
        // 2026-11-23 is a Monday.
        assert!(c.is_inside(local(MSK, 2026, 11, 23, 23, 59)));
        assert_eq!(
            c.add_working(local(MSK, 2026, 11, 23, 22, 0), Duration::hours(3)),
            local(MSK, 2026, 11, 24, 21, 0)
        );
        assert_eq!(
            c.add_working(local(MSK, 2026, 11, 23, 22, 0), Duration::hours(2)),
            local(MSK, 2026, 11, 24, 0, 0)
        );
        let start_at_24: WorkingHours =
            serde_json::from_str(r#"{"days": ["mon"], "start": "24:00", "end": "18:00"}"#).unwrap();
        assert!(start_at_24.validate().is_err());
    }

    #[test]
    fn working_hours_validate() {
        assert_eq!(WorkingHours::default().validate(), Ok(()));
        let mut h = WorkingHours::default();
        h.end = h.start;
        let err = h.validate().unwrap_err();
        assert_eq!(err.field(), "working_hours.start");
        assert!(err.to_string().starts_with("working_hours.start"));
        h.end = time(8, 0);
        assert!(matches!(
            h.validate(),
            Err(WorkHoursError::StartNotBeforeEnd { .. })
        ));
        let h = WorkingHours {
            days: vec![],
            ..WorkingHours::default()
        };
        let err = h.validate().unwrap_err();
        assert_eq!(err, WorkHoursError::NoDays);
        assert_eq!(err.field(), "working_hours.days");
        assert!(err.to_string().starts_with("working_hours.days"));
    }

    #[test]
    fn working_days_and_days_off() {
        let c = WorkCalendar::new(MSK, WorkingHours::default(), [date(2026, 3, 4)]);
        assert!(c.is_working_day(date(2026, 3, 2))); // Monday
        assert!(c.is_working_day(date(2026, 3, 3)));
        assert!(!c.is_working_day(date(2026, 3, 4))); // day off
        assert!(!c.is_working_day(date(2026, 3, 7))); // Saturday
        assert!(!c.is_working_day(date(2026, 3, 8))); // Sunday
    }

    #[test]
    fn is_inside_is_closed() {
        let c = cal(MSK);
        // Monday 2026-03-02, Moscow = UTC+3.
        assert!(c.is_inside(local(MSK, 2026, 3, 2, 9, 0)));
        assert!(c.is_inside(local(MSK, 2026, 3, 2, 13, 0)));
        assert!(c.is_inside(local(MSK, 2026, 3, 2, 18, 0)));
        assert!(!c.is_inside(local(MSK, 2026, 3, 2, 18, 0) + Duration::seconds(1)));
        assert!(!c.is_inside(local(MSK, 2026, 3, 2, 9, 0) - Duration::seconds(1)));
        assert!(!c.is_inside(local(MSK, 2026, 3, 7, 12, 0))); // Saturday
        let off = WorkCalendar::new(MSK, WorkingHours::default(), [date(2026, 3, 2)]);
        assert!(!off.is_inside(local(MSK, 2026, 3, 2, 12, 0)));
    }

    #[test]
    fn next_working_instant_cases() {
        let c = WorkCalendar::new(MSK, WorkingHours::default(), [date(2026, 3, 9)]);
        let inside = local(MSK, 2026, 3, 2, 11, 44);
        assert_eq!(c.next_working_instant(inside), inside);
        let end = local(MSK, 2026, 3, 2, 18, 0);
        assert_eq!(c.next_working_instant(end), end);
        // Before the start: today's start.
        assert_eq!(
            c.next_working_instant(local(MSK, 2026, 3, 2, 7, 15)),
            local(MSK, 2026, 3, 2, 9, 0)
        );
        // After the end: tomorrow's start.
        assert_eq!(
            c.next_working_instant(local(MSK, 2026, 3, 2, 18, 1)),
            local(MSK, 2026, 3, 3, 9, 0)
        );
        // Friday evening and the weekend: Monday; Monday 9th is off → Tuesday.
        assert_eq!(
            c.next_working_instant(local(MSK, 2026, 3, 6, 19, 0)),
            local(MSK, 2026, 3, 10, 9, 0)
        );
        assert_eq!(
            c.next_working_instant(local(MSK, 2026, 3, 8, 23, 59)),
            local(MSK, 2026, 3, 10, 9, 0)
        );
        // Local midnight differs from UTC midnight: 23:30 UTC Monday is 02:30 Tuesday in Moscow.
        assert_eq!(
            c.next_working_instant(utc(2026, 3, 2, 23, 30)),
            local(MSK, 2026, 3, 3, 9, 0)
        );
    }

    #[test]
    fn add_working_seed_examples() {
        let c = cal(MSK);
        let h2 = Duration::hours(2);
        // 11:44 on a working day + 2h → 13:44.
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 3, 11, 44), h2),
            local(MSK, 2026, 3, 3, 13, 44)
        );
        // 17:30 + 2h → 10:30 the next working day.
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 3, 17, 30), h2),
            local(MSK, 2026, 3, 4, 10, 30)
        );
        // Friday 17:00 + 2h → Monday 10:00.
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 6, 17, 0), h2),
            local(MSK, 2026, 3, 9, 10, 0)
        );
        // Saturday 12:00 + 1h → Monday 10:00.
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 7, 12, 0), Duration::hours(1)),
            local(MSK, 2026, 3, 9, 10, 0)
        );
        // Running out exactly at the end gives the end.
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 3, 17, 0), Duration::hours(1)),
            local(MSK, 2026, 3, 3, 18, 0)
        );
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 3, 9, 0), Duration::hours(9)),
            local(MSK, 2026, 3, 3, 18, 0)
        );
        // A full extra day.
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 3, 9, 0), Duration::hours(18)),
            local(MSK, 2026, 3, 4, 18, 0)
        );
        // Zero duration outside hours: the next working instant.
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 3, 20, 0), Duration::zero()),
            local(MSK, 2026, 3, 4, 9, 0)
        );
    }

    #[test]
    fn add_working_skips_days_off() {
        // Wednesday 2026-03-04 and Monday 2026-03-09 off.
        let c = WorkCalendar::new(
            MSK,
            WorkingHours::default(),
            [date(2026, 3, 4), date(2026, 3, 9)],
        );
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 3, 17, 30), Duration::hours(2)),
            local(MSK, 2026, 3, 5, 10, 30)
        );
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 6, 17, 0), Duration::hours(2)),
            local(MSK, 2026, 3, 10, 10, 0)
        );
        assert_eq!(
            c.add_working(local(MSK, 2026, 3, 4, 12, 0), Duration::minutes(1)),
            local(MSK, 2026, 3, 5, 9, 1)
        );
    }

    #[test]
    fn add_working_days_cases() {
        let c = WorkCalendar::new(MSK, WorkingHours::default(), [date(2026, 3, 10)]);
        // Friday 10:00 + 1 day → Monday 10:00.
        assert_eq!(
            c.add_working_days(local(MSK, 2026, 3, 6, 10, 0), 1),
            local(MSK, 2026, 3, 9, 10, 0)
        );
        // Saturday 12:00 + 1 day → Monday 12:00.
        assert_eq!(
            c.add_working_days(local(MSK, 2026, 3, 7, 12, 0), 1),
            local(MSK, 2026, 3, 9, 12, 0)
        );
        // Friday 20:00 + 1 day → Monday 20:00 → Tuesday is off → Wednesday 09:00.
        assert_eq!(
            c.add_working_days(local(MSK, 2026, 3, 6, 20, 0), 1),
            local(MSK, 2026, 3, 11, 9, 0)
        );
        // Monday 11:00 + 2 days skips the day off on Tuesday.
        assert_eq!(
            c.add_working_days(local(MSK, 2026, 3, 9, 11, 0), 2),
            local(MSK, 2026, 3, 12, 11, 0)
        );
        // Zero days: the next working instant.
        assert_eq!(
            c.add_working_days(local(MSK, 2026, 3, 7, 12, 0), 0),
            local(MSK, 2026, 3, 9, 9, 0)
        );
        // Five working days = one week.
        assert_eq!(
            c.add_working_days(local(MSK, 2026, 3, 2, 15, 0), 5),
            local(MSK, 2026, 3, 9, 15, 0)
        );
    }

    #[test]
    fn dst_berlin_working_day_stays_local() {
        let c = cal(BER);
        // Spring forward on Sunday 2026-03-29: CET (UTC+1) → CEST (UTC+2).
        assert_eq!(
            c.next_working_instant(utc(2026, 3, 27, 6, 0)),
            utc(2026, 3, 27, 8, 0)
        );
        assert_eq!(
            c.next_working_instant(utc(2026, 3, 28, 12, 0)),
            utc(2026, 3, 30, 7, 0)
        );
        assert!(c.is_inside(utc(2026, 3, 27, 17, 0))); // 18:00 CET
        assert!(!c.is_inside(utc(2026, 3, 30, 16, 30))); // 18:30 CEST
        assert!(c.is_inside(utc(2026, 3, 30, 16, 0))); // 18:00 CEST
        // Friday 17:00 CET + 2h → Monday 10:00 CEST.
        assert_eq!(
            c.add_working(utc(2026, 3, 27, 16, 0), Duration::hours(2)),
            utc(2026, 3, 30, 8, 0)
        );
        // Friday 10:00 CET + 1 day → Monday 10:00 CEST.
        assert_eq!(
            c.add_working_days(utc(2026, 3, 27, 9, 0), 1),
            utc(2026, 3, 30, 8, 0)
        );
        // Fall back on Sunday 2026-10-25: 09:00 is UTC+2 before, UTC+1 after.
        assert_eq!(
            c.next_working_instant(utc(2026, 10, 24, 12, 0)),
            utc(2026, 10, 26, 8, 0)
        );
        assert_eq!(
            c.add_working(utc(2026, 10, 23, 15, 0), Duration::hours(2)),
            utc(2026, 10, 26, 9, 0)
        );
    }

    #[test]
    fn dst_new_york_both_switches() {
        let c = cal(NY);
        // 2026-03-08 spring forward: EST (UTC-5) → EDT (UTC-4).
        assert_eq!(
            c.next_working_instant(utc(2026, 3, 6, 23, 30)),
            utc(2026, 3, 9, 13, 0)
        );
        assert_eq!(
            c.add_working(local(NY, 2026, 3, 6, 17, 0), Duration::hours(2)),
            local(NY, 2026, 3, 9, 10, 0)
        );
        assert_eq!(local(NY, 2026, 3, 9, 10, 0), utc(2026, 3, 9, 14, 0));
        // 2026-11-01 fall back: EDT → EST.
        assert_eq!(
            c.next_working_instant(utc(2026, 10, 31, 12, 0)),
            utc(2026, 11, 2, 14, 0)
        );
        assert_eq!(
            c.add_working(utc(2026, 10, 30, 21, 30), Duration::hours(2)), // 17:30 EDT
            utc(2026, 11, 2, 15, 30)                                      // 10:30 EST
        );
    }

    #[test]
    fn dst_gap_maps_to_first_valid_instant() {
        let every_day = |start, end| WorkingHours {
            days: vec![
                Day::Mon,
                Day::Tue,
                Day::Wed,
                Day::Thu,
                Day::Fri,
                Day::Sat,
                Day::Sun,
            ],
            start,
            end,
        };
        // Berlin 2026-03-29: 02:00–03:00 does not exist; 02:30 → 03:00 CEST = 01:00 UTC.
        let c = WorkCalendar::new(BER, every_day(time(2, 30), time(12, 0)), []);
        assert_eq!(
            c.next_working_instant(utc(2026, 3, 28, 23, 0)),
            utc(2026, 3, 29, 1, 0)
        );
        assert!(c.is_inside(utc(2026, 3, 29, 1, 0)));
        assert!(!c.is_inside(utc(2026, 3, 29, 0, 59)));
        // New York 2026-03-08: 02:15 → 03:00 EDT = 07:00 UTC.
        let c = WorkCalendar::new(NY, every_day(time(2, 15), time(12, 0)), []);
        assert_eq!(
            c.next_working_instant(utc(2026, 3, 8, 5, 0)),
            utc(2026, 3, 8, 7, 0)
        );
        // Ambiguous 01:30 on 2026-11-01 → the earlier one (EDT, 05:30 UTC).
        let c = WorkCalendar::new(NY, every_day(time(1, 30), time(12, 0)), []);
        assert_eq!(
            c.next_working_instant(utc(2026, 11, 1, 4, 0)),
            utc(2026, 11, 1, 5, 30)
        );
        // Working time is real time: 01:00–04:00 on the Berlin switch day is 2h.
        let c = WorkCalendar::new(BER, every_day(time(1, 0), time(4, 0)), []);
        assert_eq!(
            c.add_working(utc(2026, 3, 29, 0, 0), Duration::hours(2)),
            utc(2026, 3, 29, 2, 0)
        );
        assert_eq!(
            c.add_working(utc(2026, 3, 29, 0, 0), Duration::minutes(150)),
            utc(2026, 3, 29, 23, 30) // Monday 01:30 CEST
        );
        // Whole days are calendar days: the local time stays across the
        // spring switch (a 23-hour day)...
        let c = WorkCalendar::new(BER, every_day(time(9, 0), time(18, 0)), []);
        assert_eq!(
            c.add_working_days(utc(2026, 3, 28, 9, 0), 1), // Sat 10:00 CET
            utc(2026, 3, 29, 8, 0)                         // Sun 10:00 CEST
        );
        assert_eq!(
            c.add_working_days(utc(2026, 3, 28, 9, 0), 2),
            utc(2026, 3, 30, 8, 0) // Mon 10:00 CEST
        );
        // ...and when a non-working day is skipped.
        let c = WorkCalendar::new(BER, every_day(time(9, 0), time(18, 0)), [date(2026, 3, 29)]);
        assert_eq!(
            c.add_working_days(utc(2026, 3, 28, 9, 0), 1),
            utc(2026, 3, 30, 8, 0) // Mon 10:00 CEST
        );
        let c = WorkCalendar::new(NY, every_day(time(9, 0), time(18, 0)), []);
        assert_eq!(
            c.add_working_days(utc(2026, 10, 31, 14, 0), 1), // Sat 10:00 EDT
            utc(2026, 11, 1, 15, 0)                          // Sun 10:00 EST
        );
    }

    #[test]
    fn search_is_capped() {
        // Only Mondays work, and every Monday for four years is off.
        let hours = WorkingHours {
            days: vec![Day::Mon],
            ..WorkingHours::default()
        };
        let mondays = (0..4 * 53).map(|w| date(2026, 3, 2) + Duration::weeks(w));
        let c = WorkCalendar::new(MSK, hours, mondays);
        let t = utc(2026, 3, 3, 12, 0);
        assert_eq!(c.next_working_instant(t), t);
        assert_eq!(c.add_working(t, Duration::hours(2)), t + Duration::hours(2));
        assert_eq!(c.add_working_days(t, 3), t + Duration::days(3));
        // Inverted hours have no working time at all.
        let inverted = WorkingHours {
            start: time(18, 0),
            end: time(9, 0),
            ..WorkingHours::default()
        };
        let c = WorkCalendar::new(MSK, inverted, []);
        assert!(!c.is_inside(local(MSK, 2026, 3, 3, 12, 0)));
        assert_eq!(c.next_working_instant(t), t);
        assert_eq!(c.add_working(t, Duration::hours(2)), t + Duration::hours(2));
    }

    pub(crate) const ZONES: [Tz; 7] = [
        chrono_tz::Europe::Moscow,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Asia::Tokyo,
        chrono_tz::Australia::Sydney,
        chrono_tz::UTC,
        chrono_tz::Asia::Kolkata,
    ];

    const ALL_DAYS: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    /// Instants from 2025-01-01 to 2028-12-31 UTC.
    pub(crate) fn arb_instant() -> impl Strategy<Value = DateTime<Utc>> {
        (1_735_689_600i64..1_861_920_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
    }

    /// Random calendars: a zone from [`ZONES`], a non-empty set of days,
    /// `start < end` (at least an hour apart) and up to five days off.
    pub(crate) fn arb_calendar() -> impl Strategy<Value = WorkCalendar> {
        (
            0..ZONES.len(),
            1u8..128,
            0u32..23 * 60,
            60u32..24 * 60,
            proptest::collection::vec(0u64..4 * 366, 0..5),
        )
            .prop_map(|(zone, mask, start, len, off)| {
                let end = (start + len).min(24 * 60 - 1);
                let days = (0..7)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| ALL_DAYS[i])
                    .collect();
                let hours = WorkingHours {
                    days,
                    start: time(start / 60, start % 60),
                    end: time(end / 60, end % 60),
                };
                let first = date(2025, 1, 1);
                let off = off.into_iter().map(|d| first + chrono::Days::new(d));
                WorkCalendar::new(ZONES[zone], hours, off)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn next_working_instant_is_inside_and_minimal(c in arb_calendar(), t in arb_instant()) {
            prop_assert!(c.hours.validate().is_ok());
            let n = c.next_working_instant(t);
            prop_assert!(c.is_inside(n), "{n} not inside");
            prop_assert!(n >= t);
            if c.is_inside(t) {
                prop_assert_eq!(n, t);
            } else {
                prop_assert!(!c.is_inside(n - Duration::seconds(1)) || n - t <= Duration::seconds(1));
            }
            prop_assert_eq!(c.next_working_instant(n), n);
        }

        #[test]
        fn add_working_composes(
            c in arb_calendar(),
            t in arb_instant(),
            a in 0i64..20 * 24 * 60,
            b in 0i64..20 * 24 * 60,
        ) {
            let (a, b) = (Duration::minutes(a), Duration::minutes(b));
            let ta = c.add_working(t, a);
            prop_assert!(c.is_inside(ta));
            prop_assert!(ta >= t + a);
            let tab = c.add_working(t, a + b);
            prop_assert_eq!(c.add_working(ta, b), tab);
            prop_assert!(tab >= ta);
        }

        #[test]
        fn add_working_days_is_inside(c in arb_calendar(), t in arb_instant(), n in 0u32..40) {
            let r = c.add_working_days(t, n);
            prop_assert!(c.is_inside(r));
            // N days are N calendar days at the same wall-clock time (23 or
            // 25 hours across a daylight-saving switch), never fewer.
            prop_assert!(r >= add_calendar_days(t, n.into(), c.tz));
        }
    }
}
