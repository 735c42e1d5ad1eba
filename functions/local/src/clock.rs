//! The two clocks of the local server: the system clock, and a manual clock
//! that only moves when `POST /v1/clock/advance` moves it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use crm_core::memory::ManualClock;
use crm_core::ports::Clock;
use crm_core::system::SystemClock;

/// Which clock the server runs on (`--clock system|manual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// Real time (`chrono::Utc::now`); the clock endpoints answer 404.
    #[default]
    System,
    /// Time stands still and moves only through `POST /v1/clock/advance`.
    Manual,
}

impl FromStr for ClockMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "system" => Ok(ClockMode::System),
            "manual" => Ok(ClockMode::Manual),
            other => Err(format!("unknown clock '{other}' (system or manual)")),
        }
    }
}

impl fmt::Display for ClockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClockMode::System => "system",
            ClockMode::Manual => "manual",
        })
    }
}

/// The clock a [`crate::Runtime`] runs on.
#[derive(Clone)]
pub enum RuntimeClock {
    /// Real time.
    System,
    /// A manual clock, shared with the engine.
    Manual(Arc<ManualClock>),
}

impl RuntimeClock {
    /// A clock of `mode`; a manual clock starts at `start_at` (default: now).
    pub fn new(mode: ClockMode, start_at: Option<DateTime<Utc>>) -> Self {
        match mode {
            ClockMode::System => RuntimeClock::System,
            ClockMode::Manual => RuntimeClock::Manual(Arc::new(ManualClock::new(
                start_at.unwrap_or_else(Utc::now),
            ))),
        }
    }

    /// The clock as the engine's port.
    pub fn port(&self) -> Arc<dyn Clock> {
        match self {
            RuntimeClock::System => Arc::new(SystemClock),
            RuntimeClock::Manual(c) => c.clone(),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            RuntimeClock::System => Utc::now(),
            RuntimeClock::Manual(c) => c.now(),
        }
    }

    /// Which kind of clock this is.
    pub fn mode(&self) -> ClockMode {
        match self {
            RuntimeClock::System => ClockMode::System,
            RuntimeClock::Manual(_) => ClockMode::Manual,
        }
    }

    /// The manual clock, if this is one.
    pub fn manual(&self) -> Option<&Arc<ManualClock>> {
        match self {
            RuntimeClock::System => None,
            RuntimeClock::Manual(c) => Some(c),
        }
    }
}

/// `t` rounded up to a whole millisecond: the job store keeps due times in
/// whole milliseconds rounded up, so a clock moved to a job's due time must be
/// moved to this value for the job to count as due.
pub fn ceil_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    let sub = t.timestamp_subsec_nanos() % 1_000_000;
    if sub == 0 {
        t
    } else {
        t + TimeDelta::nanoseconds(i64::from(1_000_000 - sub))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!("system".parse::<ClockMode>(), Ok(ClockMode::System));
        assert_eq!("manual".parse::<ClockMode>(), Ok(ClockMode::Manual));
        assert!("wall".parse::<ClockMode>().is_err());
        assert_eq!(ClockMode::Manual.to_string(), "manual");
    }

    #[test]
    fn rounds_up_to_the_millisecond() {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.0015Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            ceil_millis(t),
            DateTime::parse_from_rfc3339("2026-01-01T00:00:00.002Z").unwrap()
        );
        let whole = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.002Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ceil_millis(whole), whole);
    }

    #[test]
    fn manual_clock_starts_where_told() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T08:44:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = RuntimeClock::new(ClockMode::Manual, Some(start));
        assert_eq!(c.now(), start);
        assert_eq!(c.port().now(), start);
        assert!(c.manual().is_some());
        assert!(
            RuntimeClock::new(ClockMode::System, None)
                .manual()
                .is_none()
        );
    }
}
