//! Lanes of due jobs and the worker's time slices.

use super::*;

/// Due jobs one lane hands to the engine at once ([`Engine::run_jobs`]),
/// unless `CRM_BATCH_RUNS` says otherwise: the engine commits the runs of
/// different items of a batch in one SQLite transaction (a group commit) and
/// the runtime acks the batch's jobs in one more. 128 writes 40 % less per
/// run (BENCHMARKS.md) but holds the runtime thread ~8× longer between
/// yields; 16 keeps the API's latency while the worker drains a backlog.
pub const BATCH_RUNS: usize = 16;

/// Longest stretch of work between two yields to the other tasks of the
/// runtime thread.
pub const TIME_SLICE: Duration = Duration::from_millis(2);

/// Yields to the other tasks of the runtime thread once a time slice is used
/// up. The store's futures complete without ever yielding (SQLite is called
/// synchronously), so without this a long drain would hold its runtime
/// thread, and the requests queued behind it, for seconds; yielding after
/// every step instead would let 50 busy clients starve the worker.
pub(super) struct Slice(Instant);

impl Slice {
    pub(super) fn new() -> Slice {
        Slice(Instant::now())
    }

    pub(super) async fn tick(&mut self) {
        if self.0.elapsed() >= TIME_SLICE {
            tokio::task::yield_now().await;
            self.0 = Instant::now();
        }
    }
}

/// What happened to one job of a lane.
pub(super) enum LaneOutcome {
    /// Ran (or was void) and was acked.
    Acked,
    /// The engine could not run it yet (see [`Runtime::hold`]).
    NotYet,
    /// Failed; stays stored and is retried.
    Failed(String),
}

/// The lane of a job: a stable hash of its item, so one item's jobs stay in
/// order.
pub(super) fn lane_of(job: &Job, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in job.tenant.bytes().chain([0]).chain(job.item_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes as u64) as usize
}
