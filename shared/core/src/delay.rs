//! When a robot runs: immediately, after a delay, or relative to a date field
//! of the item, optionally moved into the responsible user's working hours.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use chrono_tz::Tz;

use crate::workhours::{WorkCalendar, add_calendar_days, saturating_add};

/// The longest allowed delay, in days ("from one minute to a year").
pub const MAX_DELAY_DAYS: i64 = 366;

/// Unit of a [`Duration`], serialized as `"minutes"`, `"hours"`, `"days"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Days.
    Days,
}

/// A length of time as configured: `{"amount": 2, "unit": "hours"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Duration {
    /// How many units.
    pub amount: u32,
    /// The unit.
    pub unit: TimeUnit,
}

impl Duration {
    /// The plain length (a day is 24 hours).
    pub fn to_chrono(&self) -> chrono::Duration {
        let amount = i64::from(self.amount);
        match self.unit {
            TimeUnit::Minutes => chrono::Duration::minutes(amount),
            TimeUnit::Hours => chrono::Duration::hours(amount),
            TimeUnit::Days => chrono::Duration::days(amount),
        }
    }

    /// `start` plus this duration, days counted in the calendar's zone (UTC
    /// without a calendar); see [`Self::add_in`].
    pub fn add_to(&self, start: DateTime<Utc>, calendar: Option<&WorkCalendar>) -> DateTime<Utc> {
        self.add_in(start, calendar, calendar.map_or(chrono_tz::UTC, |c| c.tz))
    }

    /// `start` plus this duration. Minutes and hours are elapsed time; days
    /// are calendar days in `tz` (the responsible's zone): the same
    /// wall-clock time `amount` local dates later, even across a
    /// daylight-saving switch. With a calendar ("respect working hours"),
    /// minutes and hours count working time only
    /// ([`WorkCalendar::add_working`]) and days count working days
    /// ([`WorkCalendar::add_working_days`], in the calendar's zone).
    pub fn add_in(
        &self,
        start: DateTime<Utc>,
        calendar: Option<&WorkCalendar>,
        tz: Tz,
    ) -> DateTime<Utc> {
        match (calendar, self.unit) {
            (None, TimeUnit::Days) => add_calendar_days(start, self.amount.into(), tz),
            (None, _) => saturating_add(start, self.to_chrono()),
            (Some(cal), TimeUnit::Days) => cal.add_working_days(start, self.amount),
            (Some(cal), _) => cal.add_working(start, self.to_chrono()),
        }
    }

    /// `start` minus this duration (days: calendar days in `tz`).
    fn sub_in(&self, start: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        match self.unit {
            TimeUnit::Days => add_calendar_days(start, -i64::from(self.amount), tz),
            _ => saturating_add(start, -self.to_chrono()),
        }
    }
}

/// Errors of [`Delay::validate`] and [`Delay::due_at`]; each message starts
/// with the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelayError {
    /// The amount is zero.
    #[error("delay.amount: must be at least 1")]
    AmountTooSmall,
    /// The delay is longer than [`MAX_DELAY_DAYS`].
    #[error("delay.amount: the delay must not be longer than {MAX_DELAY_DAYS} days")]
    TooLong,
    /// A field mode without a field.
    #[error("delay.field: a date field is required")]
    MissingField,
    /// The item's date field the delay is relative to has no value.
    #[error("delay.field: the item's date field {field} is empty")]
    FieldEmpty {
        /// The field path, e.g. `fields.meeting_at`.
        field: String,
    },
}

impl DelayError {
    /// The path of the offending setting: `delay.amount` or `delay.field`.
    pub fn field(&self) -> &'static str {
        match self {
            DelayError::AmountTooSmall | DelayError::TooLong => "delay.amount",
            DelayError::MissingField | DelayError::FieldEmpty { .. } => "delay.field",
        }
    }
}

/// When a robot runs, relative to the moment it is planned (`now`).
///
/// JSON is tagged by `"mode"`: `{"mode": "immediately"}`,
/// `{"mode": "after", "amount": 1, "unit": "days"}`,
/// `{"mode": "before_field", "amount": 2, "unit": "hours", "field": "fields.meeting_at"}`,
/// `{"mode": "after_field", …}`, `{"mode": "at_field", "field": "fields.meeting_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Delay {
    /// Right away.
    #[default]
    Immediately,
    /// `amount` units after `now`.
    After {
        /// How many units.
        amount: u32,
        /// The unit.
        unit: TimeUnit,
    },
    /// `amount` units before the date in `field`.
    BeforeField {
        /// How many units.
        amount: u32,
        /// The unit.
        unit: TimeUnit,
        /// The date field, e.g. `fields.meeting_at`.
        field: String,
    },
    /// `amount` units after the date in `field`.
    AfterField {
        /// How many units.
        amount: u32,
        /// The unit.
        unit: TimeUnit,
        /// The date field, e.g. `fields.meeting_at`.
        field: String,
    },
    /// Exactly at the date in `field`.
    AtField {
        /// The date field, e.g. `fields.meeting_at`.
        field: String,
    },
}

impl Delay {
    /// Whether the robot runs right away (`Immediately`).
    pub fn is_immediate(&self) -> bool {
        matches!(self, Delay::Immediately)
    }

    /// The date field the delay is relative to, for the field modes.
    pub fn field(&self) -> Option<&str> {
        match self {
            Delay::BeforeField { field, .. }
            | Delay::AfterField { field, .. }
            | Delay::AtField { field } => Some(field),
            Delay::Immediately | Delay::After { .. } => None,
        }
    }

    /// The configured amount and unit, for the modes that have them.
    pub fn duration(&self) -> Option<Duration> {
        match *self {
            Delay::After { amount, unit }
            | Delay::BeforeField { amount, unit, .. }
            | Delay::AfterField { amount, unit, .. } => Some(Duration { amount, unit }),
            Delay::Immediately | Delay::AtField { .. } => None,
        }
    }

    /// Checks the settings: an amount of at least 1 and at most
    /// [`MAX_DELAY_DAYS`] days in total, and a non-blank field for the field
    /// modes.
    pub fn validate(&self) -> Result<(), DelayError> {
        if let Some(d) = self.duration() {
            if d.amount < 1 {
                return Err(DelayError::AmountTooSmall);
            }
            if d.to_chrono() > chrono::Duration::days(MAX_DELAY_DAYS) {
                return Err(DelayError::TooLong);
            }
        }
        if self.field().is_some_and(|f| f.trim().is_empty()) {
            return Err(DelayError::MissingField);
        }
        Ok(())
    }

    /// When the robot is due, if planned at `now`.
    ///
    /// `field_value` is the item's value of [`Self::field`] (ignored by the
    /// other modes); `calendar` is the responsible user's calendar when
    /// "respect working hours" is on. A time already past becomes `now`; with
    /// a calendar the result is moved to the next working instant (an `After`
    /// delay counts working time / working days, see [`Duration::add_to`]).
    ///
    /// Fails if the delay is invalid ([`Self::validate`]) or the field is empty.
    pub fn due_at(
        &self,
        now: DateTime<Utc>,
        field_value: Option<DateTime<Utc>>,
        calendar: Option<&WorkCalendar>,
    ) -> Result<DateTime<Utc>, DelayError> {
        let tz = calendar.map_or(chrono_tz::UTC, |c| c.tz);
        self.due_at_in(now, field_value, calendar, tz)
    }

    /// [`Self::due_at`] with days counted as calendar days in `tz` (the
    /// responsible's zone, also when working hours are not respected).
    pub fn due_at_in(
        &self,
        now: DateTime<Utc>,
        field_value: Option<DateTime<Utc>>,
        calendar: Option<&WorkCalendar>,
        tz: Tz,
    ) -> Result<DateTime<Utc>, DelayError> {
        self.validate()?;
        let value = |field: &str| {
            field_value.ok_or_else(|| DelayError::FieldEmpty {
                field: field.to_owned(),
            })
        };
        let at = match self {
            Delay::Immediately => now,
            Delay::After { amount, unit } => {
                let d = Duration {
                    amount: *amount,
                    unit: *unit,
                };
                return Ok(d.add_in(now, calendar, tz));
            }
            Delay::BeforeField {
                amount,
                unit,
                field,
            } => {
                let d = Duration {
                    amount: *amount,
                    unit: *unit,
                };
                d.sub_in(value(field)?, tz)
            }
            Delay::AfterField {
                amount,
                unit,
                field,
            } => {
                let d = Duration {
                    amount: *amount,
                    unit: *unit,
                };
                d.add_in(value(field)?, None, tz)
            }
            Delay::AtField { field } => value(field)?,
        };
        let at = at.max(now);
        Ok(calendar.map_or(at, |c| c.next_working_instant(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workhours::WorkingHours;
    use crate::workhours::tests::{arb_calendar, arb_instant};
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::Tz;
    use proptest::prelude::*;
    use serde_json::json;

    const MSK: Tz = chrono_tz::Europe::Moscow;

    fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn msk(mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        local(MSK, 2026, mo, d, h, mi)
    }

    fn cal() -> WorkCalendar {
        WorkCalendar::new(
            MSK,
            WorkingHours::default(),
            [NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()],
        )
    }

    fn after(amount: u32, unit: TimeUnit) -> Delay {
        Delay::After { amount, unit }
    }

    fn field_delay(mode: &str, amount: u32, unit: TimeUnit) -> Delay {
        let field = "fields.meeting_at".to_owned();
        match mode {
            "before" => Delay::BeforeField {
                amount,
                unit,
                field,
            },
            "after" => Delay::AfterField {
                amount,
                unit,
                field,
            },
            _ => Delay::AtField { field },
        }
    }

    #[test]
    fn serde_matches_api() {
        let cases = [
            (json!({"mode": "immediately"}), Delay::Immediately),
            (
                json!({"mode": "after", "amount": 1, "unit": "days"}),
                after(1, TimeUnit::Days),
            ),
            (
                json!({"mode": "before_field", "amount": 2, "unit": "hours", "field": "fields.meeting_at"}),
                field_delay("before", 2, TimeUnit::Hours),
            ),
            (
                json!({"mode": "after_field", "amount": 30, "unit": "minutes", "field": "fields.meeting_at"}),
                field_delay("after", 30, TimeUnit::Minutes),
            ),
            (
                json!({"mode": "at_field", "field": "fields.meeting_at"}),
                field_delay("at", 0, TimeUnit::Minutes),
            ),
        ];
        for (value, delay) in cases {
            assert_eq!(
                serde_json::from_value::<Delay>(value.clone()).unwrap(),
                delay
            );
            assert_eq!(serde_json::to_value(&delay).unwrap(), value);
        }
        for bad in [
            json!({"mode": "later"}),
            json!({"mode": "after", "amount": 1}),
            json!({"mode": "after", "amount": 1, "unit": "weeks"}),
            json!({"mode": "after", "amount": -1, "unit": "days"}),
            json!({"mode": "at_field"}),
            json!({"amount": 1, "unit": "days"}),
        ] {
            assert!(
                serde_json::from_value::<Delay>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert_eq!(Delay::default(), Delay::Immediately);
        let d = Duration {
            amount: 2,
            unit: TimeUnit::Hours,
        };
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            json!({"amount": 2, "unit": "hours"})
        );
        assert_eq!(
            serde_json::from_value::<Duration>(json!({"amount": 2, "unit": "hours"})).unwrap(),
            d
        );
    }

    #[test]
    fn accessors() {
        assert!(Delay::Immediately.is_immediate());
        assert!(!after(1, TimeUnit::Minutes).is_immediate());
        assert_eq!(Delay::Immediately.field(), None);
        assert_eq!(after(1, TimeUnit::Days).field(), None);
        for mode in ["before", "after", "at"] {
            assert_eq!(
                field_delay(mode, 1, TimeUnit::Days).field(),
                Some("fields.meeting_at")
            );
        }
        assert_eq!(
            field_delay("before", 3, TimeUnit::Hours).duration(),
            Some(Duration {
                amount: 3,
                unit: TimeUnit::Hours
            })
        );
        assert_eq!(field_delay("at", 3, TimeUnit::Hours).duration(), None);
        assert_eq!(
            Duration {
                amount: 90,
                unit: TimeUnit::Minutes
            }
            .to_chrono(),
            chrono::Duration::minutes(90)
        );
        assert_eq!(
            Duration {
                amount: 2,
                unit: TimeUnit::Days
            }
            .to_chrono(),
            chrono::Duration::hours(48)
        );
    }

    #[test]
    fn validate_rules() {
        assert_eq!(Delay::Immediately.validate(), Ok(()));
        assert_eq!(after(1, TimeUnit::Minutes).validate(), Ok(()));
        assert_eq!(after(366, TimeUnit::Days).validate(), Ok(()));
        assert_eq!(after(366 * 24, TimeUnit::Hours).validate(), Ok(()));
        assert_eq!(after(366 * 24 * 60, TimeUnit::Minutes).validate(), Ok(()));
        assert_eq!(
            after(0, TimeUnit::Hours).validate(),
            Err(DelayError::AmountTooSmall)
        );
        assert_eq!(
            field_delay("before", 0, TimeUnit::Hours).validate(),
            Err(DelayError::AmountTooSmall)
        );
        assert_eq!(
            after(367, TimeUnit::Days).validate(),
            Err(DelayError::TooLong)
        );
        assert_eq!(
            after(366 * 24 + 1, TimeUnit::Hours).validate(),
            Err(DelayError::TooLong)
        );
        assert_eq!(
            after(u32::MAX, TimeUnit::Days).validate(),
            Err(DelayError::TooLong)
        );
        assert_eq!(
            field_delay("after", 400, TimeUnit::Days).validate(),
            Err(DelayError::TooLong)
        );
        assert_eq!(field_delay("at", 0, TimeUnit::Days).validate(), Ok(()));
        assert_eq!(
            Delay::AtField { field: " ".into() }.validate(),
            Err(DelayError::MissingField)
        );
        for (err, field) in [
            (DelayError::AmountTooSmall, "delay.amount"),
            (DelayError::TooLong, "delay.amount"),
            (DelayError::MissingField, "delay.field"),
            (
                DelayError::FieldEmpty {
                    field: "fields.x".into(),
                },
                "delay.field",
            ),
        ] {
            assert_eq!(err.field(), field);
            assert!(err.to_string().starts_with(field), "{err}");
        }
    }

    #[test]
    fn plain_due_times() {
        let now = msk(3, 3, 11, 44);
        assert_eq!(Delay::Immediately.due_at(now, None, None), Ok(now));
        assert_eq!(
            after(2, TimeUnit::Hours).due_at(now, None, None),
            Ok(msk(3, 3, 13, 44))
        );
        assert_eq!(
            after(90, TimeUnit::Minutes).due_at(now, None, None),
            Ok(msk(3, 3, 13, 14))
        );
        assert_eq!(
            after(1, TimeUnit::Days).due_at(now, None, None),
            Ok(msk(3, 4, 11, 44))
        );
        let meeting = msk(3, 5, 15, 0);
        assert_eq!(
            field_delay("before", 2, TimeUnit::Hours).due_at(now, Some(meeting), None),
            Ok(msk(3, 5, 13, 0))
        );
        assert_eq!(
            field_delay("after", 1, TimeUnit::Days).due_at(now, Some(meeting), None),
            Ok(msk(3, 6, 15, 0))
        );
        assert_eq!(
            field_delay("at", 0, TimeUnit::Days).due_at(now, Some(meeting), None),
            Ok(meeting)
        );
        // Already past → runs now.
        assert_eq!(
            field_delay("before", 3, TimeUnit::Days).due_at(now, Some(meeting), None),
            Ok(now)
        );
        assert_eq!(
            field_delay("at", 0, TimeUnit::Days).due_at(now, Some(msk(3, 1, 0, 0)), None),
            Ok(now)
        );
        // Field empty.
        assert_eq!(
            field_delay("at", 0, TimeUnit::Days).due_at(now, None, None),
            Err(DelayError::FieldEmpty {
                field: "fields.meeting_at".into()
            })
        );
        // Invalid delays are refused.
        assert_eq!(
            after(0, TimeUnit::Days).due_at(now, None, None),
            Err(DelayError::AmountTooSmall)
        );
    }

    #[test]
    fn due_times_with_working_hours() {
        let c = cal();
        let c = Some(&c);
        let two_hours = after(2, TimeUnit::Hours);
        // Seed: created 11:44 → 13:44; created 17:30 → 10:30 next working day.
        assert_eq!(
            two_hours.due_at(msk(3, 3, 11, 44), None, c),
            Ok(msk(3, 3, 13, 44))
        );
        assert_eq!(
            two_hours.due_at(msk(3, 3, 17, 30), None, c),
            Ok(msk(3, 4, 10, 30))
        );
        // Friday 17:00 → Monday 10:00; Saturday 12:00 + 1h → Monday 10:00.
        assert_eq!(
            two_hours.due_at(msk(3, 6, 17, 0), None, c),
            Ok(msk(3, 9, 10, 0))
        );
        assert_eq!(
            after(60, TimeUnit::Minutes).due_at(msk(3, 7, 12, 0), None, c),
            Ok(msk(3, 9, 10, 0))
        );
        // Days: Friday 12:00 + 1 day → Monday 12:00; + 2 days skips the day off (Tuesday 10th).
        assert_eq!(
            after(1, TimeUnit::Days).due_at(msk(3, 6, 12, 0), None, c),
            Ok(msk(3, 9, 12, 0))
        );
        assert_eq!(
            after(2, TimeUnit::Days).due_at(msk(3, 6, 12, 0), None, c),
            Ok(msk(3, 11, 12, 0))
        );
        // Immediately at night → the next morning.
        assert_eq!(
            Delay::Immediately.due_at(msk(3, 3, 22, 0), None, c),
            Ok(msk(3, 4, 9, 0))
        );
        assert_eq!(
            Delay::Immediately.due_at(msk(3, 3, 12, 0), None, c),
            Ok(msk(3, 3, 12, 0))
        );
        // Field modes: plain arithmetic, then moved into working hours.
        let meeting = msk(3, 9, 10, 0); // Monday 10:00
        assert_eq!(
            field_delay("before", 2, TimeUnit::Hours).due_at(msk(3, 2, 9, 0), Some(meeting), c),
            Ok(msk(3, 9, 9, 0)) // 08:00 → 09:00
        );
        assert_eq!(
            field_delay("before", 1, TimeUnit::Days).due_at(msk(3, 2, 9, 0), Some(meeting), c),
            Ok(msk(3, 9, 9, 0)) // Sunday 10:00 → Monday 09:00
        );
        assert_eq!(
            field_delay("after", 9, TimeUnit::Hours).due_at(msk(3, 2, 9, 0), Some(meeting), c),
            Ok(msk(3, 11, 9, 0)) // Monday 19:00 → Tuesday off → Wednesday 09:00
        );
        assert_eq!(
            field_delay("at", 0, TimeUnit::Days).due_at(msk(3, 2, 9, 0), Some(meeting), c),
            Ok(meeting)
        );
        // Already past → now, then into working hours.
        assert_eq!(
            field_delay("at", 0, TimeUnit::Days).due_at(msk(3, 9, 20, 0), Some(meeting), c),
            Ok(msk(3, 11, 9, 0))
        );
        assert_eq!(
            field_delay("at", 0, TimeUnit::Days).due_at(msk(3, 9, 12, 0), Some(meeting), c),
            Ok(msk(3, 9, 12, 0))
        );
    }

    fn arb_delay() -> impl Strategy<Value = Delay> {
        let unit_amount = prop_oneof![
            (1u32..=30 * 24 * 60).prop_map(|a| (a, TimeUnit::Minutes)),
            (1u32..=30 * 24).prop_map(|a| (a, TimeUnit::Hours)),
            (1u32..=30).prop_map(|a| (a, TimeUnit::Days)),
        ];
        (0..5, unit_amount).prop_map(|(mode, (amount, unit))| {
            let field = "fields.deadline".to_owned();
            match mode {
                0 => Delay::Immediately,
                1 => Delay::After { amount, unit },
                2 => Delay::BeforeField {
                    amount,
                    unit,
                    field,
                },
                3 => Delay::AfterField {
                    amount,
                    unit,
                    field,
                },
                _ => Delay::AtField { field },
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn due_is_inside_and_not_before_plain(
            c in arb_calendar(),
            now in arb_instant(),
            value in arb_instant(),
            delay in arb_delay(),
        ) {
            prop_assert!(delay.validate().is_ok());
            // Days are calendar days of the calendar's zone (a day across a
            // DST change is 23 or 25 hours), with or without working hours.
            let plain = delay.due_at_in(now, Some(value), None, c.tz).unwrap();
            prop_assert!(plain >= now);
            let due = delay.due_at(now, Some(value), Some(&c)).unwrap();
            prop_assert!(c.is_inside(due), "{due} not inside {c:?}");
            prop_assert!(due >= plain, "{due} < {plain}");
        }
    }
}
