//! When a webhook call is tried again: 5xx, 429, timeouts and transport
//! errors are retried after 30 s, 2 min, 10 min, 30 min and 2 h (five
//! retries, six attempts in all), or after the receiver's `Retry-After`
//! (seconds or an HTTP date) when it sends one, capped at 1 hour; any
//! other 4xx fails at once.

use chrono::{DateTime, Duration, Utc};

/// The waits before retry 1, 2, … (seconds).
pub const BACKOFF_SECONDS: [i64; 5] = [30, 120, 600, 1_800, 7_200];
/// Attempts in all (the first + the retries).
pub const MAX_ATTEMPTS: u32 = BACKOFF_SECONDS.len() as u32 + 1;
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER_SECONDS: i64 = 3_600;

/// Is this status worth another attempt?
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// When attempt `attempts + 1` is made, after `attempts` failed ones (`None`:
/// no attempts left). `retry_after`: the receiver's header, if any.
pub fn next_attempt_at(
    attempts: u32,
    now: DateTime<Utc>,
    retry_after: Option<&str>,
) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let idx = (attempts.max(1) - 1) as usize;
    let backoff = BACKOFF_SECONDS[idx.min(BACKOFF_SECONDS.len() - 1)];
    let asked = retry_after.and_then(|h| retry_after_seconds(h, now));
    let wait = asked.map_or(backoff, |a| a.clamp(1, MAX_RETRY_AFTER_SECONDS));
    Some(now + Duration::seconds(wait))
}

/// `Retry-After` as seconds from `now`: delta-seconds or an HTTP date
/// (a date in the past: 0). `None` when it is neither.
pub fn retry_after_seconds(header: &str, now: DateTime<Utc>) -> Option<i64> {
    let h = header.trim();
    if let Ok(s) = h.parse::<i64>() {
        return Some(s.max(0));
    }
    let at = DateTime::parse_from_rfc2822(h).ok()?;
    Some((at.with_timezone(&Utc) - now).num_seconds().max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn backoff_grows_and_ends_after_six_attempts() {
        let waits: Vec<i64> = (1..MAX_ATTEMPTS)
            .map(|a| (next_attempt_at(a, t0(), None).unwrap() - t0()).num_seconds())
            .collect();
        assert_eq!(waits, BACKOFF_SECONDS);
        assert_eq!(next_attempt_at(MAX_ATTEMPTS, t0(), None), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_honoured_and_capped() {
        let wait = |h| (next_attempt_at(1, t0(), Some(h)).unwrap() - t0()).num_seconds();
        assert_eq!(wait("90"), 90);
        assert_eq!(wait("5"), 5);
        assert_eq!(wait("0"), 1, "at least a second");
        assert_eq!(wait("86400"), 3_600, "capped at an hour");
        assert_eq!(wait("Tue, 01 Dec 2026 10:05:00 GMT"), 300);
        assert_eq!(wait("soon"), 30);
        assert!(retryable_status(503) && retryable_status(429));
        assert!(!retryable_status(404) && !retryable_status(400));
    }
}
