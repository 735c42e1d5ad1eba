//! The local runtime: the engine on in-process adapters, plus ONE worker
//! that does what the stage-change, trigger-evaluation and robot-runner
//! functions do on AWS.
//!
//! The worker takes work through the consumer ports of
//! [`crm_core::work_source`] ([`DueJobs`], [`QueuedEvents`]) and knows no
//! adapter; the product runs it on the embedded SQLite adapters, which
//! [`crate::embedded`] builds ([`Runtime::open`], [`Runtime::with_db`]).
//!
//! The worker repeatedly takes
//! 1. pending transactional-outbox records ([`Engine::process_outbox`], which
//!    deletes each record when it is done),
//! 2. queued events ([`Engine::handle_event`], then acked),
//! 3. robot jobs due by the clock's `now` ([`Engine::run_job`], then acked;
//!    a visit job — a stage change's immediate runs, issue #11 — runs all
//!    its runs and commits them in one transaction),
//!
//! until none is left. Each pass serves every tenant with pending work in
//! turn (round-robin, in their order within the tenant): its pending outbox
//! records, a page at a time, up to [`RuntimeOptions::outbox_share`] of them
//! (a record only plans — it queues its visit's job —, so the backlog of a
//! burst of writes moves on to the job queue instead of holding writers
//! back; the outbox itself stays bounded by the back-pressure below),
//! at most [`RuntimeOptions::batch`] events and jobs of each tenant, and
//! evaluates at most `batch` items of each tenant's events per pass: an event
//! naming a client phone/email that matches thousands of items is evaluated
//! over several passes (its progress kept by the worker; the per-item run-log
//! record makes an evaluation repeated after a restart a no-op), so one
//! tenant's backlog cannot hold back another tenant's work for more than a
//! pass. Due jobs of different items may run in parallel lanes
//! ([`RuntimeOptions::lanes`], one by default); the jobs of one item run one
//! after the other, in due order. Everything is acked only after it succeeded, so work
//! interrupted by a crash is offered again after a restart; the engine makes
//! every step idempotent, so it then has one effect.
//!
//! Webhook calls (outbox records that call an endpoint the tenant chose)
//! run beside the passes with the system clock, a few per tenant at a time
//! (`call_outs.rs`), so one tenant's slow endpoint holds up no one else's
//! work; with the manual clock they run inline.
//!
//! Failures are transient by assumption (the store was busy, a record raced):
//! they are logged and retried with exponential backoff, never dropped.
//!
//! With the system clock the worker sleeps until the next job is due or until
//! [`Runtime::notify`] wakes it (the HTTP layer does that after every request
//! that may have queued work). With the manual clock, [`Runtime::advance`]
//! moves time under the worker's lock, running each delayed job at its own
//! due time in due order, then drains all queued work before it returns.
//!
//! The worker shares the request-serving runtime and yields every
//! [`TIME_SLICE`]; a tenant's writers wait while the worker is far behind on
//! that tenant's outbox ([`Runtime::admit_write`]), which bounds how long a
//! write waits for its robots to be planned. The worker's memory does not
//! depend on the backlog: it reads the outbox a tenant's page at a time.
//! BENCHMARKS.md has the measurements behind these choices.
mod back_pressure;
mod call_outs;
mod lanes;
mod manual_control;
mod options;
mod outbox_pass;
mod passes;
mod purge;
mod work_state;

pub use back_pressure::RuntimeWriteGate;
pub use call_outs::{CALLS, CALLS_PER_TENANT};
pub use lanes::{BATCH_RUNS, TIME_SLICE};
pub use options::{RuntimeError, RuntimeOptions};

use back_pressure::PendingWrites;
use call_outs::CallOuts;
use lanes::{LaneOutcome, Slice, lane_of};
use manual_control::ManualControl;
use work_state::{WorkKey, WorkState};

// The children (`passes`, `lanes`, …) take these with `use super::*`.
#[allow(unused_imports)]
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
#[allow(unused_imports)]
use crm_core::RunOutcome;
#[allow(unused_imports)]
use crm_core::flows::event_items::{EVENT_ITEMS_PAGE, EventItemsTally};
use crm_core::model::{ClientItemsCursor, QueuedEvent, RunRecord, RunStatus};
#[allow(unused_imports)]
use crm_core::ports::{
    Clock, Delivery, DocKey, DocStore, EventQueue, Job, JobQueue, Kind, PortError, Ports, Scheduler,
};
#[allow(unused_imports)]
use crm_core::system::{LogDelivery, TimeOrderedIds};
#[allow(unused_imports)]
use crm_core::work_source::{DueJobs, EventSeq, QueuedEvents};
use crm_core::{Engine, EngineConfig};
use crm_http::ClockControl;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use crate::clock::{RuntimeClock, ceil_millis};

/// Longest the worker sleeps without looking for work (a safety net: every
/// write through the API also wakes it).
pub(super) const IDLE_POLL: Duration = Duration::from_secs(1);
/// First retry delay of failed work; doubles per attempt.
pub(super) const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest retry delay of failed work.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a manual clock advance retries work that keeps failing before
/// it reports the failure.
pub(super) const ADVANCE_RETRIES: u32 = 3;
/// Longest a write waits for the worker to catch up before it goes ahead anyway.
pub const MAX_BACKPRESSURE_WAIT: Duration = Duration::from_secs(10);
/// Safety net against a clock advance that makes no progress.
pub(super) const MAX_IDLE_STEPS: u32 = 1000;

/// Environment variable overriding [`RuntimeOptions::lanes`].
pub const LANES_ENV: &str = "CRM_WORKER_LANES";

/// Environment variable overriding [`RuntimeOptions::max_backlog`].
pub const MAX_BACKLOG_ENV: &str = "CRM_MAX_BACKLOG";

/// Environment variable overriding [`RuntimeOptions::batch_runs`].
pub const BATCH_RUNS_ENV: &str = "CRM_BATCH_RUNS";
/// The engine on the embedded adapters, and its worker.
///
/// Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    /// The engine's store, for the purge of expired documents.
    store: Arc<dyn DocStore>,
    jobs: Arc<dyn DueJobs>,
    events: Arc<dyn QueuedEvents>,
    clock: RuntimeClock,
    notify: Notify,
    stopping: AtomicBool,
    /// The worker's lock: held by the worker for each round of work and by a
    /// clock advance for the whole advance.
    work: Mutex<WorkState>,
    batch: usize,
    lanes: usize,
    /// Due jobs a lane runs (and commits) at once.
    batch_runs: usize,
    /// Pending outbox records per tenant (an estimate, for back-pressure).
    pending: PendingWrites,
    /// Signalled whenever the worker processed an outbox record.
    progress: Notify,
    max_backlog: usize,
    outbox_share: usize,
    /// Outbox records that call out, processed beside the passes.
    call_outs: CallOuts,
}

/// The running worker task.
pub struct WorkerHandle {
    runtime: Runtime,
    join: JoinHandle<()>,
}

impl WorkerHandle {
    /// Ask the worker to stop after its current step and wait for it. Work it
    /// did not get to stays queued in the database.
    pub async fn shutdown(self) {
        self.runtime.begin_shutdown();
        if let Err(e) = self.join.await {
            tracing::error!(error = %e, "the worker task ended abnormally");
        }
    }
}

/// How much work a drain did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Outbox records processed.
    pub outbox: usize,
    /// Events evaluated.
    pub events: usize,
    /// Jobs run (or found void) and acked.
    pub jobs: usize,
    /// Parts of events evaluated whose evaluation goes on in a later pass
    /// (events matching more items than a tenant's share of a pass).
    pub event_parts: usize,
}

impl DrainReport {
    /// Total steps.
    pub fn total(&self) -> usize {
        self.outbox + self.events + self.jobs + self.event_parts
    }

    fn add(&mut self, o: DrainReport) {
        self.outbox += o.outbox;
        self.events += o.events;
        self.jobs += o.jobs;
        self.event_parts += o.event_parts;
    }
}

/// What is stored in the queues right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Pending transactional-outbox records.
    pub outbox: usize,
    /// Queued events.
    pub events: usize,
    /// Stored jobs (due or not).
    pub jobs: usize,
    /// Queued jobs and events that could not be read and were set aside
    /// ([`DueJobs::parked`] + [`QueuedEvents::parked`]; the `parked` table of
    /// the embedded database; logged as errors when parked).
    pub parked: usize,
}

impl Runtime {
    /// The runtime on these adapters: `jobs` is the engine's job queue and
    /// scheduler and the worker's source of due jobs, `events` the engine's
    /// event queue and the worker's source of events. The worker is not
    /// started: see [`Runtime::spawn_worker`].
    pub fn new<J, E>(
        store: Arc<dyn DocStore>,
        jobs: Arc<J>,
        events: Arc<E>,
        clock: RuntimeClock,
        options: RuntimeOptions,
    ) -> Runtime
    where
        J: JobQueue + Scheduler + DueJobs + 'static,
        E: EventQueue + QueuedEvents + 'static,
    {
        let ports = Ports {
            store: store.clone(),
            jobs: jobs.clone(),
            scheduler: jobs.clone(),
            events: events.clone(),
            delivery: options.delivery,
            clock: clock.port(),
            ids: Arc::new(TimeOrderedIds),
            blobs: options
                .blobs
                .clone()
                .unwrap_or_else(|| Arc::new(crm_core::memory_blobs::MemoryBlobs::new())),
            http: options.http.clone(),
        };
        Runtime {
            inner: Arc::new(Inner {
                engine: Arc::new(Engine::new(ports, options.engine)),
                store,
                jobs,
                events,
                clock,
                notify: Notify::new(),
                stopping: AtomicBool::new(false),
                work: Mutex::new(WorkState::default()),
                batch: options.batch.max(1),
                lanes: options.lanes.max(1),
                batch_runs: options.batch_runs.max(1),
                pending: PendingWrites::default(),
                progress: Notify::new(),
                max_backlog: options.max_backlog.max(1),
                outbox_share: options.outbox_share.max(1),
                call_outs: CallOuts::default(),
            }),
        }
    }

    /// The engine (what the HTTP API calls).
    pub fn engine(&self) -> Arc<Engine> {
        self.inner.engine.clone()
    }

    /// The runtime's clock.
    pub fn clock(&self) -> &RuntimeClock {
        &self.inner.clock
    }

    /// The current time of the runtime's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Wake the worker: there may be new work (an item changed, an event
    /// arrived). Cheap; wake-ups while the worker is busy are coalesced.
    pub fn notify(&self) {
        self.inner.notify.notify_one();
    }

    /// The clock hook of the HTTP API: `Some` with a manual clock.
    pub fn clock_control(&self) -> Option<Arc<dyn ClockControl>> {
        self.inner
            .clock
            .manual()
            .map(|_| Arc::new(ManualControl(self.clone())) as Arc<dyn ClockControl>)
    }

    /// Counts of the stored queues.
    pub async fn backlog(&self) -> Result<Backlog, RuntimeError> {
        let outbox = self
            .outbox_counts(usize::MAX)
            .await?
            .iter()
            .map(|(_, n)| n)
            .sum();
        Ok(Backlog {
            outbox,
            events: self.inner.events.stored()?,
            jobs: self.inner.jobs.stored()?,
            parked: self.inner.jobs.parked()? + self.inner.events.parked()?,
        })
    }

    /// Start the worker task on the current tokio runtime.
    pub fn spawn_worker(&self) -> WorkerHandle {
        self.inner.stopping.store(false, Ordering::SeqCst);
        let rt = self.clone();
        WorkerHandle {
            runtime: self.clone(),
            join: tokio::spawn(async move { rt.worker_loop().await }),
        }
    }

    /// Run everything that is due now until nothing is left (what the worker
    /// does on each wake-up), under the worker's lock.
    pub async fn run_until_idle(&self) -> DrainReport {
        let mut st = self.inner.work.lock().await;
        self.drain(&mut st).await
    }

    /// Move the manual clock forward by `by`, running every job that becomes
    /// due at its own due time, in due order, then all queued work; returns
    /// the new time. Holds the worker's lock throughout, so nothing else runs
    /// meanwhile.
    pub async fn advance(&self, by: TimeDelta) -> Result<DateTime<Utc>, RuntimeError> {
        let clock = self
            .inner
            .clock
            .manual()
            .ok_or(RuntimeError::NotManual)?
            .clone();
        let mut st = self.inner.work.lock().await;
        let target = clock.now() + by.max(TimeDelta::zero());
        let mut report = self.drain(&mut st).await;
        let mut idle_steps = 0;
        while let Some(due) = self.next_due(&st, target)? {
            if due > clock.now() {
                clock.set(due);
            } else {
                idle_steps += 1;
                if idle_steps > MAX_IDLE_STEPS {
                    return Err(RuntimeError::Stuck(clock.now()));
                }
            }
            report.add(self.drain(&mut st).await);
            if self.stopping() {
                break;
            }
        }
        if self.stopping() {
            return Err(RuntimeError::ShuttingDown);
        }
        if target > clock.now() {
            clock.set(target);
        }
        report.add(self.drain(&mut st).await);
        // Give failed work a few quick chances (whatever its backoff) before
        // reporting it.
        for attempt in 0..ADVANCE_RETRIES {
            if st.failures.is_empty() {
                break;
            }
            tokio::time::sleep(FIRST_BACKOFF.saturating_mul(1 << attempt)).await;
            st.release_all();
            report.add(self.drain(&mut st).await);
        }
        if self.stopping() {
            return Err(RuntimeError::ShuttingDown);
        }
        tracing::debug!(now = %clock.now(), outbox = report.outbox, events = report.events, jobs = report.jobs, "clock advanced");
        if let Some(f) = st.failures.values().next() {
            return Err(RuntimeError::Failing {
                count: st.failures.len(),
                first: f.error.clone(),
            });
        }
        Ok(clock.now())
    }

    /// Ask the worker and any clock advance in progress to stop after their
    /// current step (the work not done stays queued in the database).
    pub fn begin_shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.notify.notify_one();
    }

    fn stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::Relaxed)
    }

    async fn worker_loop(self) {
        tracing::info!(clock = %self.inner.clock.mode(), "worker started");
        while !self.stopping() {
            let sleep = {
                let mut st = self.inner.work.lock().await;
                let report = self.drain(&mut st).await;
                if report.total() > 0 {
                    tracing::debug!(
                        outbox = report.outbox,
                        events = report.events,
                        jobs = report.jobs,
                        "worker round"
                    );
                }
                self.sleep_time(&st)
            };
            if self.stopping() {
                break;
            }
            tokio::select! {
                () = self.inner.notify.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        tracing::info!("worker stopped");
    }

    /// How long the worker may sleep before something becomes due.
    fn sleep_time(&self, st: &WorkState) -> Duration {
        let mut sleep = IDLE_POLL;
        if let Some(at) = st.next_retry() {
            sleep = sleep.min(at.saturating_duration_since(Instant::now()));
        }
        if self.inner.clock.manual().is_none() {
            let now = self.inner.clock.now();
            match self.next_due(st, DateTime::<Utc>::MAX_UTC) {
                Ok(Some(due)) => {
                    sleep = sleep.min((due - now).to_std().unwrap_or(Duration::ZERO));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the next due job"),
            }
        }
        sleep
    }

    /// The earliest time at or before `horizon` at which a job can run,
    /// leaving out jobs held back by failures (rounded up to the millisecond).
    fn next_due(
        &self,
        st: &WorkState,
        horizon: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, RuntimeError> {
        let holds = st.job_holds();
        let stored = if holds == 0 {
            // No side effects: `due` would mark the job as taken.
            self.inner
                .jobs
                .next_due()?
                .filter(|t| *t <= horizon)
                .map(ceil_millis)
        } else {
            // Held jobs (already taken) sit at the head of the queue.
            self.inner
                .jobs
                .take_due(horizon, holds + 1)?
                .iter()
                .find(|j| !st.holds_job(&j.schedule_name()))
                .map(|j| ceil_millis(j.due_at))
        };
        let waiting = st.waiting.values().copied().filter(|t| *t <= horizon).min();
        Ok(match (stored, waiting) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// One pass of the worker, under its lock: each tenant's share of the
    /// pending outbox records, queued events and due jobs (see the module
    /// documentation). What is left waits for the next pass.
    pub async fn run_pass(&self) -> DrainReport {
        let mut st = self.inner.work.lock().await;
        self.pass(&mut st).await
    }

    async fn pass(&self, st: &mut WorkState) -> DrainReport {
        self.purge_pass(st).await;
        let outbox = self.outbox_pass(st).await;
        let (events, event_parts) = self.event_pass(st).await;
        DrainReport {
            outbox,
            events,
            jobs: self.job_pass(st).await,
            event_parts,
        }
    }

    /// Run passes until one finds nothing to do (or the worker is stopping).
    async fn drain(&self, st: &mut WorkState) -> DrainReport {
        let mut report = DrainReport::default();
        while !self.stopping() {
            let pass = self.pass(st).await;
            if pass.total() == 0 {
                break;
            }
            report.add(pass);
        }
        report
    }
}
