//! The consumer side of the job and event queues: how an in-process worker
//! takes the work that [`JobQueue`], [`Scheduler`] and [`EventQueue`] hold,
//! acks it, and what becomes of work it cannot read.
//!
//! [`DueJobs`] is the consumer of jobs (sent now or scheduled for later),
//! [`QueuedEvents`] the consumer of events. The local runtime drives both;
//! the contract suite (`crm-tests`) checks them on the in-memory fakes
//! (`crate::memory`) and on SQLite (`crm-embedded`). On AWS nothing takes work
//! through these traits: Lambda event sources consume the SQS queues and
//! EventBridge Scheduler fires the timers, so this contract applies to the
//! in-process adapters only.
//!
//! # Contract
//!
//! - **At least once, nothing lost until acked.** Taking work does not remove
//!   it: whatever is taken stays stored until it is acked, and is offered
//!   again by the next take (and after a restart, for durable adapters), so a
//!   worker that fails or crashes half way loses nothing. The consumer acks
//!   only once the work's effect is committed; the engine makes every step
//!   idempotent, so work offered twice has one effect.
//! - **Ack removes; acking again is harmless.** Acking what is gone, or was
//!   never there, succeeds and changes nothing.
//! - **Jobs come in due order, and only when due.** [`DueJobs::take_due`]
//!   returns jobs due at or before `now`, earliest due time first, jobs due
//!   together in the order they were sent or scheduled; a job due later is not
//!   returned. Events come oldest first ([`QueuedEvents::take`]).
//! - **A taken job is no longer a timer.** While a job is taken (and not
//!   acked), [`Scheduler::cancel`] leaves it alone, and a job sent or
//!   scheduled under the same name (the runner reschedules a run that came
//!   early) is stored beside it: acking the taken job removes the taken one
//!   only, and the new one is delivered at its own due time.
//! - **Unreadable work is parked, not blocking.** A stored job or event whose
//!   body cannot be read (written by another version, damaged) is set aside
//!   with the reason and logged — never returned, never retried, and never in
//!   the way of the work behind it. `parked` counts what was set aside (an
//!   operator looks into it); `stored` counts what is still queued, taken or
//!   not, without the parked. In-memory queues hold typed values, so nothing
//!   of theirs is ever parked.
//!
//! Queues are shared by every tenant: a take returns any tenant's work.
//!
//! - **Fair takes serve every tenant in turn.** [`DueJobs::take_due_fair`]
//!   and [`QueuedEvents::take_fair`] return, for every tenant with work, at
//!   most `per_tenant` of its work, in the order the plain take would return
//!   it (due order, or oldest first), interleaved round-robin: the first of
//!   each tenant (tenants in order of their first), then the second of each,
//!   and so on, cut to `limit`. A tenant's part is always a head of its
//!   queue, so work of one tenant (and of one item) keeps its order, and a
//!   backlog of one tenant cannot push another tenant's work out of a take.
//!
//! The methods are synchronous: the adapters behind them are in-process (a
//! mutex-guarded map, or a local SQLite file whose statements take
//! microseconds), and the worker calls them once per batch or per event, where
//! a boxed future per call would cost more than the call itself.

use chrono::{DateTime, Utc};

use crate::model::QueuedEvent;
#[cfg(doc)]
use crate::ports::{EventQueue, JobQueue, Scheduler};
use crate::ports::{Job, PortError};

/// The consumer side of [`JobQueue`] + [`Scheduler`]: due jobs, taken in due
/// order and acked once they ran (see the [module contract](self)).
pub trait DueJobs: Send + Sync {
    /// Up to `limit` jobs due at or before `now`, earliest due first (jobs due
    /// together in arrival order), marked as taken. They stay stored until
    /// acked: taking again returns them again. Unreadable jobs are parked,
    /// not returned.
    fn take_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, PortError>;

    /// [`DueJobs::take_due`], fair between tenants: for every tenant with due
    /// jobs, its first `per_tenant` due jobs (in due order), interleaved
    /// round-robin between tenants and cut to `limit` (see the
    /// [module contract](self)). Marked as taken, like `take_due`.
    fn take_due_fair(
        &self,
        now: DateTime<Utc>,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<Job>, PortError>;

    /// Remove a job after it ran (or was found void). For a taken job this
    /// removes what was taken, not a job of the same name stored since; other
    /// jobs are removed by name. Unknown jobs are fine.
    fn ack(&self, job: &Job) -> Result<(), PortError>;

    /// [`DueJobs::ack`] for several jobs (adapters may do it in one write).
    fn ack_many(&self, jobs: &[Job]) -> Result<(), PortError> {
        jobs.iter().try_for_each(|job| self.ack(job))
    }

    /// Due time of the earliest stored job, taken or not (no side effects:
    /// nothing is marked as taken).
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, PortError>;

    /// Number of stored jobs: waiting, and taken but not acked.
    fn stored(&self) -> Result<usize, PortError>;

    /// Number of jobs parked because they could not be read.
    fn parked(&self) -> Result<usize, PortError>;
}

/// Receipt of a taken event: what [`QueuedEvents::ack`] is given. Increases
/// with the order events were sent in.
pub type EventSeq = i64;

/// The consumer side of [`EventQueue`]: a FIFO whose events are taken
/// oldest first and acked once handled (see the [module contract](self)).
pub trait QueuedEvents: Send + Sync {
    /// Up to `limit` of the oldest stored events with their receipts, oldest
    /// first. They stay stored until acked: taking again returns them again,
    /// with the same receipts. Unreadable events are parked, not returned.
    fn take(&self, limit: usize) -> Result<Vec<(EventSeq, QueuedEvent)>, PortError>;

    /// [`QueuedEvents::take`], fair between tenants: for every tenant with
    /// stored events, its `per_tenant` oldest (oldest first), interleaved
    /// round-robin between tenants and cut to `limit` (see the
    /// [module contract](self)).
    fn take_fair(
        &self,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<(EventSeq, QueuedEvent)>, PortError>;

    /// Remove the event with this receipt. Unknown receipts are fine.
    fn ack(&self, seq: EventSeq) -> Result<(), PortError>;

    /// Number of stored events (taken or not).
    fn stored(&self) -> Result<usize, PortError>;

    /// Number of events parked because they could not be read.
    fn parked(&self) -> Result<usize, PortError>;
}

/// The round-robin order of the fair takes: `groups` (one per tenant, each in
/// its own order, the groups in the order their tenants are served) become
/// the first of each group, then the second of each, and so on, cut to
/// `limit`. Each group's part of the result is a head of the group.
pub fn round_robin<T>(groups: Vec<Vec<T>>, limit: usize) -> Vec<T> {
    let total: usize = groups.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total.min(limit));
    let mut iters: Vec<std::vec::IntoIter<T>> = groups.into_iter().map(Vec::into_iter).collect();
    while out.len() < limit && !iters.is_empty() {
        iters.retain_mut(|it| match it.next() {
            Some(x) if out.len() < limit => {
                out.push(x);
                true
            }
            _ => false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::round_robin;

    #[test]
    fn round_robin_interleaves_heads() {
        let groups = vec![vec![1, 2, 3, 4], vec![10], vec![20, 21]];
        assert_eq!(
            round_robin(groups.clone(), 100),
            vec![1, 10, 20, 2, 21, 3, 4]
        );
        assert_eq!(round_robin(groups.clone(), 4), vec![1, 10, 20, 2]);
        assert!(round_robin(groups, 0).is_empty());
        assert!(round_robin(Vec::<Vec<u8>>::new(), 3).is_empty());
    }
}
