//! When a message is tried again: transient failures are retried after
//! 1 min, 5 min, 30 min, 2 h and 6 h (six attempts in all); then the message
//! fails.

use chrono::{DateTime, Duration, Utc};

/// The waits before retry 1, 2, … (seconds).
pub const BACKOFF_SECONDS: [i64; 5] = [60, 300, 1_800, 7_200, 21_600];
/// Attempts in all (the first + the retries).
pub const MAX_ATTEMPTS: u32 = BACKOFF_SECONDS.len() as u32 + 1;
/// How long an attempt may stay `sending` before the message is tried again
/// (a process that died between the provider's answer and the commit).
pub const SENDING_LEASE_SECONDS: i64 = 600;

/// When attempt `attempts + 1` is made, after `attempts` failed ones
/// (`None`: no attempts left).
pub fn next_attempt_at(attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let idx = (attempts.max(1) - 1) as usize;
    Some(now + Duration::seconds(BACKOFF_SECONDS[idx.min(BACKOFF_SECONDS.len() - 1)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_ends_after_six_attempts() {
        let t0: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let waits: Vec<i64> = (1..MAX_ATTEMPTS)
            .map(|a| (next_attempt_at(a, t0).unwrap() - t0).num_seconds())
            .collect();
        assert_eq!(waits, BACKOFF_SECONDS);
        assert_eq!(next_attempt_at(MAX_ATTEMPTS, t0), None);
    }
}
