//! What the worker keeps between passes: failures waiting for their retry,
//! held jobs, the progress of large events.

use super::*;

/// What the worker keeps between passes: failed work waiting for its retry,
/// and jobs whose run cannot start yet.
#[derive(Default)]
pub(super) struct WorkState {
    pub(super) failures: HashMap<WorkKey, Failure>,
    /// Jobs (by schedule name) that the engine could not run yet (the run is
    /// due later, or a crashed runner's claim has not expired): not before
    /// this clock time.
    pub(super) waiting: HashMap<String, DateTime<Utc>>,
    /// Events evaluated part way (more matching items than a tenant's share
    /// of a pass): their items and how many are done. Lost on a restart,
    /// which then evaluates the event again from its first item (each item's
    /// run-log record makes the repeats no-ops).
    pub(super) events: HashMap<EventSeq, EventProgress>,
    /// When expired documents are purged next (clock time; `None`: at the
    /// first pass).
    pub(super) next_purge: Option<DateTime<Utc>>,
}

/// How far the evaluation of one event got: the items of the page being
/// evaluated, where the next page starts, and the items done.
pub(super) struct EventProgress {
    /// The listed items not evaluated yet.
    pub(super) pending: VecDeque<String>,
    /// Where the next page of items starts (`None`: all listed).
    pub(super) cursor: Option<ClientItemsCursor>,
    /// The items evaluated so far (for the event's record).
    pub(super) tally: EventItemsTally,
}

impl Default for EventProgress {
    /// Nothing listed yet: the first page starts at the beginning.
    fn default() -> Self {
        EventProgress {
            pending: VecDeque::new(),
            cursor: Some(ClientItemsCursor::default()),
            tally: EventItemsTally::default(),
        }
    }
}

/// One unit of work, for failure bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum WorkKey {
    /// Listing the pending outbox records failed.
    OutboxList,
    /// Reading the event queue failed.
    EventList,
    /// Reading the due jobs failed.
    JobList,
    Outbox(String),
    Event(EventSeq),
    Job(String),
}

#[derive(Debug)]
pub(super) struct Failure {
    pub(super) attempts: u32,
    pub(super) retry_at: Instant,
    pub(super) error: String,
}

impl WorkState {
    /// Is this work waiting for its retry time?
    pub(super) fn blocked(&self, key: &WorkKey) -> bool {
        self.failures
            .get(key)
            .is_some_and(|f| f.retry_at > Instant::now())
    }

    pub(super) fn fail(&mut self, key: WorkKey, error: &dyn std::fmt::Display) {
        let f = self.failures.entry(key.clone()).or_insert(Failure {
            attempts: 0,
            retry_at: Instant::now(),
            error: String::new(),
        });
        f.attempts += 1;
        let backoff = FIRST_BACKOFF
            .saturating_mul(1u32 << (f.attempts - 1).min(16))
            .min(MAX_BACKOFF);
        f.retry_at = Instant::now() + backoff;
        f.error = error.to_string();
        if f.attempts >= 5 {
            tracing::error!(work = ?key, attempts = f.attempts, retry_in_ms = backoff.as_millis() as u64, error = %f.error, "work keeps failing; will retry");
        } else {
            tracing::warn!(work = ?key, attempts = f.attempts, retry_in_ms = backoff.as_millis() as u64, error = %f.error, "work failed; will retry");
        }
    }

    pub(super) fn succeed(&mut self, key: &WorkKey) {
        if self.failures.remove(key).is_some() {
            tracing::info!(work = ?key, "work succeeded after a retry");
        }
    }

    /// Is this job held back (failed, or waiting for its run)?
    pub(super) fn holds_job(&self, name: &str) -> bool {
        self.waiting.contains_key(name) || self.failures.contains_key(&WorkKey::Job(name.into()))
    }

    /// How many jobs are held back (they may sit at the head of the queue).
    pub(super) fn job_holds(&self) -> usize {
        self.waiting.len()
            + self
                .failures
                .keys()
                .filter(|k| matches!(k, WorkKey::Job(_)))
                .count()
    }

    pub(super) fn event_holds(&self) -> usize {
        self.failures
            .keys()
            .filter(|k| matches!(k, WorkKey::Event(_)))
            .count()
    }

    /// Make all failed work eligible for a retry now.
    pub(super) fn release_all(&mut self) {
        let now = Instant::now();
        for f in self.failures.values_mut() {
            f.retry_at = now;
        }
    }

    /// The earliest retry time of failed work.
    pub(super) fn next_retry(&self) -> Option<Instant> {
        self.failures.values().map(|f| f.retry_at).min()
    }
}
