//! The two clocks of the local server: the system clock, and a manual clock
//! that only moves when `POST /v1/clock/advance` moves it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use crm_core::memory::ManualClock;
use crm_core::ports::Clock;
use crm_core::system::SystemClock;
use crm_http::ClockControl;

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

/// File in the data directory that keeps the manual clock's time, so that
/// the clock does not go back when the server restarts.
pub const CLOCK_FILE: &str = "clock";

/// The saved time of the manual clock could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ClockFileError {
    /// Reading or writing the file failed.
    #[error("manual clock file {path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, std::io::Error),
    /// The file does not hold an RFC 3339 time.
    #[error("manual clock file {path}: not an RFC 3339 time ({text:?}); fix or delete it", path = .0.display(), text = .1)]
    Invalid(PathBuf, String),
}

/// The manual clock's time saved in `dir`, if any.
pub fn saved_time(dir: &Path) -> Result<Option<DateTime<Utc>>, ClockFileError> {
    let path = dir.join(CLOCK_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ClockFileError::Invalid(path, text.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ClockFileError::Io(path, e)),
    }
}

/// Save the manual clock's time in `dir` (owner-only file, replaced
/// atomically).
pub fn save_time(dir: &Path, t: DateTime<Utc>) -> Result<(), ClockFileError> {
    let path = dir.join(CLOCK_FILE);
    let tmp = dir.join(format!("{CLOCK_FILE}.tmp"));
    crate::datadir::write_private(&tmp, format!("{}\n", t.to_rfc3339()).as_bytes())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ClockFileError::Io(path, e))
}

/// A [`ClockControl`] that saves the clock's time in the data directory:
/// the target of an advance before it runs (a process killed half way
/// through resumes at the target, never before robots it already ran), and
/// the time reached after it.
pub struct SavedClock {
    inner: Arc<dyn ClockControl>,
    dir: PathBuf,
}

impl SavedClock {
    /// Wrap `inner`, saving into `dir`.
    pub fn new(inner: Arc<dyn ClockControl>, dir: &Path) -> SavedClock {
        SavedClock {
            inner,
            dir: dir.to_path_buf(),
        }
    }
}

#[async_trait]
impl ClockControl for SavedClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    async fn advance(&self, seconds: i64) -> Result<DateTime<Utc>, String> {
        let target = self.inner.now() + TimeDelta::seconds(seconds.max(0));
        if let Err(e) = save_time(&self.dir, target) {
            tracing::error!(error = %e, "cannot save the manual clock's time; not advanced");
            return Err(e.to_string());
        }
        let result = self.inner.advance(seconds).await;
        let reached = self.inner.now();
        if reached > target
            && let Err(e) = save_time(&self.dir, reached)
        {
            tracing::error!(error = %e, "cannot save the manual clock's time");
            return Err(e.to_string());
        }
        result
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
