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
//! 3. robot jobs due by the clock's `now` ([`Engine::run_job`], then acked),
//!
//! until none is left. Each pass serves every tenant with pending work in
//! turn (round-robin, at most [`RuntimeOptions::batch`] records, events or
//! jobs of each tenant per pass, in their order within the tenant), and
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
//! [`TIME_SLICE`]; writers wait while it is far behind
//! ([`Runtime::wait_for_capacity`]), which bounds its memory (it lists all
//! pending outbox records at once). BENCHMARKS.md has the measurements behind
//! these choices.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use crm_core::RunOutcome;
use crm_core::model::{QueuedEvent, RunRecord, RunStatus};
use crm_core::ports::{
    Clock, Delivery, DocKey, DocStore, EventQueue, Job, JobQueue, Kind, PortError, Ports, Scheduler,
};
use crm_core::work_source::{DueJobs, EventSeq, QueuedEvents, round_robin};
use crm_core::{Engine, EngineConfig};
use crm_http::ClockControl;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use crate::clock::{RuntimeClock, ceil_millis};
use crm_core::system::{LogDelivery, TimeOrderedIds};

/// Longest the worker sleeps without looking for work (a safety net: every
/// write through the API also wakes it).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// First retry delay of failed work; doubles per attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest retry delay of failed work.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a manual clock advance retries work that keeps failing before
/// it reports the failure.
const ADVANCE_RETRIES: u32 = 3;
/// Longest a write waits for the worker to catch up before it goes ahead anyway.
pub const MAX_BACKPRESSURE_WAIT: Duration = Duration::from_secs(10);
/// Safety net against a clock advance that makes no progress.
const MAX_IDLE_STEPS: u32 = 1000;

/// Environment variable overriding [`RuntimeOptions::lanes`].
pub const LANES_ENV: &str = "CRM_WORKER_LANES";

/// Environment variable overriding [`RuntimeOptions::max_backlog`].
pub const MAX_BACKLOG_ENV: &str = "CRM_MAX_BACKLOG";

/// Tunables of the runtime.
#[derive(Clone)]
pub struct RuntimeOptions {
    /// How many events or due jobs one pass takes from the queues (all
    /// tenants together, each tenant in turn), and a tenant's share of a
    /// pass: at most this many of its outbox records and of its events' item
    /// evaluations.
    pub batch: usize,
    /// How many jobs of different items may run at the same time (jobs of
    /// one item always run one after the other, in due order). Default 1, or
    /// `CRM_WORKER_LANES`.
    pub lanes: usize,
    /// The engine's tunables.
    pub engine: EngineConfig,
    /// Outbound email/SMS provider (default: [`LogDelivery`]).
    pub delivery: Arc<dyn Delivery>,
    /// Back-pressure: writes through the API wait while about this many
    /// transactional-outbox records are pending (the worker lists all pending
    /// records at once, so this also bounds its memory). Default 5,000, or
    /// `CRM_MAX_BACKLOG`.
    pub max_backlog: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        // One lane by default: with every store operation serialized on one
        // SQLite connection, parallel lanes measured no faster (see
        // BENCHMARKS.md); a store with more concurrency may want more.
        let lanes = std::env::var(LANES_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        RuntimeOptions {
            batch: 512,
            lanes,
            // One worker per data directory: the version-guarded commit
            // alone makes each run one effect, so the claim write is skipped.
            engine: EngineConfig {
                claim_runs: false,
                ..EngineConfig::default()
            },
            delivery: Arc::new(LogDelivery),
            max_backlog: std::env::var(MAX_BACKLOG_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5_000),
        }
    }
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("batch", &self.batch)
            .field("lanes", &self.lanes)
            .field("engine", &self.engine)
            .field("max_backlog", &self.max_backlog)
            .finish_non_exhaustive()
    }
}

/// Failures of the runtime itself.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(Box<dyn std::error::Error + Send + Sync>),
    /// The job or event queue could not be read.
    #[error(transparent)]
    Queue(#[from] PortError),
    /// The engine failed to read its state.
    #[error(transparent)]
    Engine(#[from] crm_core::error::EngineError),
    /// A clock advance on a runtime with the system clock.
    #[error("the runtime runs on the system clock; only a manual clock can be advanced")]
    NotManual,
    /// Some work kept failing while the clock was advanced; it stays queued
    /// and is retried later.
    #[error("{count} work item(s) kept failing and will be retried; first: {first}")]
    Failing {
        /// How many items are waiting for a retry.
        count: usize,
        /// The error of one of them.
        first: String,
    },
    /// The runtime is shutting down; the work that was not done stays queued.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The clock advance made no progress (a bug; reported instead of spinning).
    #[error("the clock advance made no progress at {0}")]
    Stuck(DateTime<Utc>),
}

/// What the worker keeps between passes: failed work waiting for its retry,
/// and jobs whose run cannot start yet.
#[derive(Default)]
struct WorkState {
    failures: HashMap<WorkKey, Failure>,
    /// Jobs (by schedule name) that the engine could not run yet (the run is
    /// due later, or a crashed runner's claim has not expired): not before
    /// this clock time.
    waiting: HashMap<String, DateTime<Utc>>,
    /// Events evaluated part way (more matching items than a tenant's share
    /// of a pass): their items and how many are done. Lost on a restart,
    /// which then evaluates the event again from its first item (each item's
    /// run-log record makes the repeats no-ops).
    events: HashMap<EventSeq, EventProgress>,
}

/// How far the evaluation of one event got.
struct EventProgress {
    /// The items the event is evaluated for ([`Engine::event_items`]).
    items: Vec<String>,
    /// How many of them are evaluated.
    next: usize,
}

/// One unit of work, for failure bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum WorkKey {
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
struct Failure {
    attempts: u32,
    retry_at: Instant,
    error: String,
}

impl WorkState {
    /// Is this work waiting for its retry time?
    fn blocked(&self, key: &WorkKey) -> bool {
        self.failures
            .get(key)
            .is_some_and(|f| f.retry_at > Instant::now())
    }

    fn fail(&mut self, key: WorkKey, error: &dyn std::fmt::Display) {
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

    fn succeed(&mut self, key: &WorkKey) {
        if self.failures.remove(key).is_some() {
            tracing::info!(work = ?key, "work succeeded after a retry");
        }
    }

    /// Is this job held back (failed, or waiting for its run)?
    fn holds_job(&self, name: &str) -> bool {
        self.waiting.contains_key(name) || self.failures.contains_key(&WorkKey::Job(name.into()))
    }

    /// How many jobs are held back (they may sit at the head of the queue).
    fn job_holds(&self) -> usize {
        self.waiting.len()
            + self
                .failures
                .keys()
                .filter(|k| matches!(k, WorkKey::Job(_)))
                .count()
    }

    fn event_holds(&self) -> usize {
        self.failures
            .keys()
            .filter(|k| matches!(k, WorkKey::Event(_)))
            .count()
    }

    /// Make all failed work eligible for a retry now.
    fn release_all(&mut self) {
        let now = Instant::now();
        for f in self.failures.values_mut() {
            f.retry_at = now;
        }
    }

    /// The earliest retry time of failed work.
    fn next_retry(&self) -> Option<Instant> {
        self.failures.values().map(|f| f.retry_at).min()
    }
}

/// The engine on the embedded adapters, and its worker.
///
/// Cheap to clone: clones share everything.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
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
    /// Pending outbox records: as many as the worker last listed, minus those
    /// it processed since, plus the writes the API accepted since (an
    /// estimate, for back-pressure).
    outbox_hint: AtomicUsize,
    /// Signalled whenever the worker processed an outbox record.
    progress: Notify,
    max_backlog: usize,
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
            store,
            jobs: jobs.clone(),
            scheduler: jobs.clone(),
            events: events.clone(),
            delivery: options.delivery,
            clock: clock.port(),
            ids: Arc::new(TimeOrderedIds),
        };
        Runtime {
            inner: Arc::new(Inner {
                engine: Arc::new(Engine::new(ports, options.engine)),
                jobs,
                events,
                clock,
                notify: Notify::new(),
                stopping: AtomicBool::new(false),
                work: Mutex::new(WorkState::default()),
                batch: options.batch.max(1),
                lanes: options.lanes.max(1),
                outbox_hint: AtomicUsize::new(0),
                progress: Notify::new(),
                max_backlog: options.max_backlog.max(1),
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

    /// Record that a write was accepted (one more outbox record may be
    /// pending) and wake the worker.
    pub fn note_write(&self) {
        self.inner.outbox_hint.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }

    /// Back-pressure for writers: wait while the worker is
    /// [`RuntimeOptions::max_backlog`] or more outbox records behind (at most
    /// [`MAX_BACKPRESSURE_WAIT`], and not at all while shutting down).
    pub async fn wait_for_capacity(&self) {
        let started = Instant::now();
        while self.inner.outbox_hint.load(Ordering::Relaxed) >= self.inner.max_backlog
            && !self.stopping()
            && started.elapsed() < MAX_BACKPRESSURE_WAIT
        {
            self.notify();
            let _ = tokio::time::timeout(Duration::from_millis(10), self.inner.progress.notified())
                .await;
        }
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
        let outbox = self.inner.engine.pending_outbox().await?.len();
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

    /// Process every pending outbox record.
    async fn outbox_pass(&self, st: &mut WorkState) -> usize {
        if st.blocked(&WorkKey::OutboxList) {
            return 0;
        }
        let docs = match self.inner.engine.pending_outbox().await {
            Ok(d) => {
                st.succeed(&WorkKey::OutboxList);
                d
            }
            Err(e) => {
                st.fail(WorkKey::OutboxList, &e);
                return 0;
            }
        };
        // Failures of records that are gone (processed meanwhile) are forgotten.
        let present: HashSet<String> = docs.iter().map(|d| d.key.to_string()).collect();
        st.failures
            .retain(|k, _| !matches!(k, WorkKey::Outbox(id) if !present.contains(id)));
        self.inner.outbox_hint.store(docs.len(), Ordering::Relaxed);
        let docs = per_tenant_in_turn(docs, self.inner.batch, Engine::outbox_tenant);
        let mut slice = Slice::new();
        let mut done = 0;
        for d in docs {
            if self.stopping() {
                break;
            }
            let key = WorkKey::Outbox(d.key.to_string());
            if st.blocked(&key) {
                continue;
            }
            match self.inner.engine.process_outbox(d).await {
                Ok(()) => {
                    st.succeed(&key);
                    done += 1;
                }
                Err(e) => st.fail(key, &e),
            }
            let _ =
                self.inner
                    .outbox_hint
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_sub(1))
                    });
            self.inner.progress.notify_waiters();
            slice.tick().await;
        }
        done
    }

    /// Evaluate queued events, each tenant in turn: at most `batch` of each
    /// tenant's oldest events, and at most `batch` item evaluations of each
    /// tenant, per pass. An event whose items do not fit is continued in the
    /// next pass, and the tenant's later events wait for it. Each event is
    /// acked once evaluated for all its items. Returns the events finished
    /// and the parts of unfinished events evaluated.
    async fn event_pass(&self, st: &mut WorkState) -> (usize, usize) {
        if st.blocked(&WorkKey::EventList) {
            return (0, 0);
        }
        let limit = self.inner.batch + st.event_holds();
        let events = match self.inner.events.take_fair(limit, limit) {
            Ok(v) => {
                st.succeed(&WorkKey::EventList);
                v
            }
            Err(e) => {
                st.fail(WorkKey::EventList, &e);
                return (0, 0);
            }
        };
        if events.len() < limit {
            // Every stored event was returned: forget failures and progress
            // of acked ones.
            let present: HashSet<EventSeq> = events.iter().map(|(seq, _)| *seq).collect();
            st.failures
                .retain(|k, _| !matches!(k, WorkKey::Event(seq) if !present.contains(seq)));
            st.events.retain(|seq, _| present.contains(seq));
        }
        // Item evaluations left to each tenant in this pass.
        let mut share: HashMap<String, usize> = HashMap::new();
        let mut slice = Slice::new();
        let (mut done, mut parts) = (0, 0);
        for (seq, event) in events {
            if self.stopping() {
                break;
            }
            let key = WorkKey::Event(seq);
            if st.blocked(&key) {
                continue;
            }
            let left = share
                .entry(event.tenant.clone())
                .or_insert(self.inner.batch);
            if *left == 0 {
                continue; // the tenant had its share of this pass
            }
            match self.evaluate_part(st, seq, &event, left, &mut slice).await {
                Ok(true) => {
                    st.succeed(&key);
                    done += 1;
                }
                Ok(false) => {
                    st.succeed(&key);
                    parts += 1;
                }
                Err(e) => st.fail(key, &e),
            }
            slice.tick().await;
        }
        (done, parts)
    }

    /// Evaluate the event for as many of its remaining items as `left`
    /// allows (at least one step, an event without items included); ack it
    /// if that finished it. `Ok(false)`: items are left for a later pass.
    async fn evaluate_part(
        &self,
        st: &mut WorkState,
        seq: EventSeq,
        event: &QueuedEvent,
        left: &mut usize,
        slice: &mut Slice,
    ) -> Result<bool, String> {
        let engine = &self.inner.engine;
        let mut progress = match st.events.remove(&seq) {
            Some(p) => p,
            None => EventProgress {
                items: engine.event_items(event).await.map_err(|e| e.to_string())?,
                next: 0,
            },
        };
        // The caller checked `*left > 0`.
        let end = progress.items.len().min(progress.next + *left);
        *left -= (end - progress.next).clamp(1, *left);
        while progress.next < end {
            let item = std::slice::from_ref(&progress.items[progress.next]);
            if let Err(e) = engine.evaluate_event_items(event, item).await {
                st.events.insert(seq, progress);
                return Err(e.to_string());
            }
            progress.next += 1;
            slice.tick().await;
        }
        if progress.next < progress.items.len() {
            tracing::debug!(event_id = %event.event_id, done = progress.next, items = progress.items.len(), "event evaluated in part; continued in the next pass");
            st.events.insert(seq, progress);
            *left = 0; // the tenant's later events wait for this one
            return Ok(false);
        }
        engine
            .finish_event(event, progress.items)
            .await
            .map_err(|e| e.to_string())?;
        self.inner.events.ack(seq).map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Run a batch of due jobs, acking each after it reached a final state.
    async fn job_pass(&self, st: &mut WorkState) -> usize {
        if st.blocked(&WorkKey::JobList) {
            return 0;
        }
        let now = self.inner.clock.now();
        let limit = self.inner.batch + st.job_holds();
        // Each tenant in turn: one tenant's backlog of due jobs does not keep
        // another's out of the batch.
        let jobs = match self.inner.jobs.take_due_fair(now, limit, limit) {
            Ok(v) => {
                st.succeed(&WorkKey::JobList);
                v
            }
            Err(e) => {
                st.fail(WorkKey::JobList, &e);
                return 0;
            }
        };
        if jobs.len() < limit {
            // Every due job was returned, and held jobs are always due (their
            // stored due time has passed): forget holds of jobs that are gone
            // (a timer cancelled because its visit ended).
            let present: HashSet<String> = jobs.iter().map(Job::schedule_name).collect();
            st.waiting.retain(|name, _| present.contains(name));
            st.failures
                .retain(|k, _| !matches!(k, WorkKey::Job(name) if !present.contains(name)));
        }
        let runnable: Vec<Job> = jobs
            .into_iter()
            .filter(|job| {
                let name = job.schedule_name();
                !st.blocked(&WorkKey::Job(name.clone()))
                    && st.waiting.get(&name).is_none_or(|t| *t <= now)
            })
            .collect();
        if runnable.is_empty() {
            return 0;
        }
        // Lanes run in parallel; the jobs of one item share a lane and keep
        // their due order in it.
        let lanes = self.inner.lanes.min(runnable.len());
        let mut per_lane: Vec<Vec<Job>> = vec![Vec::new(); lanes];
        for job in runnable {
            per_lane[lane_of(&job, lanes)].push(job);
        }
        let mut tasks = Vec::with_capacity(lanes);
        for lane in per_lane {
            let rt = self.clone();
            let copy = lane.clone();
            tasks.push((copy, tokio::spawn(async move { rt.run_lane(lane).await })));
        }
        let mut done = 0;
        for (lane, task) in tasks {
            let results = match task.await {
                Ok(r) => r,
                Err(e) => {
                    // A panic in the engine: the lane's jobs are still stored
                    // and are retried after a backoff (runs are idempotent).
                    let msg = format!("job lane failed: {e}");
                    for job in &lane {
                        st.fail(WorkKey::Job(job.schedule_name()), &msg);
                    }
                    continue;
                }
            };
            for (job, outcome) in results {
                let name = job.schedule_name();
                let key = WorkKey::Job(name.clone());
                let result = match outcome {
                    LaneOutcome::Acked => {
                        st.waiting.remove(&name);
                        Ok(true)
                    }
                    LaneOutcome::NotYet => self.hold(st, &job, &name).await,
                    LaneOutcome::Failed(e) => Err(e),
                };
                match result {
                    Ok(acked) => {
                        st.succeed(&key);
                        if acked {
                            done += 1;
                        }
                    }
                    Err(e) => st.fail(key, &e),
                }
            }
        }
        done
    }

    /// Run the jobs of one lane in due order, [`BATCH_RUNS`] at a time: the
    /// engine commits the runs of different items of a batch together
    /// ([`Engine::run_jobs`]) and the finished jobs are acked in one transaction.
    async fn run_lane(&self, jobs: Vec<Job>) -> Vec<(Job, LaneOutcome)> {
        let mut slice = Slice::new();
        let mut out = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(BATCH_RUNS) {
            if self.stopping() {
                break;
            }
            match self.inner.engine.run_jobs(chunk.to_vec()).await {
                Ok(outcomes) => {
                    let finished = |o: &RunOutcome| {
                        matches!(
                            o,
                            RunOutcome::Finished(_)
                                | RunOutcome::AlreadyFinished
                                | RunOutcome::Unknown
                        )
                    };
                    let done: Vec<Job> = chunk
                        .iter()
                        .zip(&outcomes)
                        .filter(|(_, o)| finished(o))
                        .map(|(j, _)| j.clone())
                        .collect();
                    let acked = self.inner.jobs.ack_many(&done).map_err(|e| e.to_string());
                    for (job, o) in chunk.iter().zip(outcomes) {
                        let outcome = if finished(&o) {
                            match &acked {
                                Ok(()) => LaneOutcome::Acked,
                                Err(e) => LaneOutcome::Failed(e.clone()),
                            }
                        } else {
                            LaneOutcome::NotYet
                        };
                        out.push((job.clone(), outcome));
                    }
                }
                // Runs committed before the error are found final on retry.
                Err(e) => {
                    out.extend(
                        chunk
                            .iter()
                            .map(|j| (j.clone(), LaneOutcome::Failed(e.to_string()))),
                    );
                }
            }
            slice.tick().await;
        }
        out
    }

    /// Remove a finished job from the queue.
    fn ack(&self, st: &mut WorkState, job: &Job, name: &str) -> Result<bool, String> {
        self.inner.jobs.ack(job).map_err(|e| e.to_string())?;
        st.waiting.remove(name);
        Ok(true)
    }

    /// The engine could not run the job yet. Look at its run: if it can never
    /// run from this job, ack the job; otherwise keep the job stored (so a
    /// crash cannot lose it) and retry it when the run can start.
    async fn hold(&self, st: &mut WorkState, job: &Job, name: &str) -> Result<bool, String> {
        let key = DocKey::new(job.tenant.as_str(), Kind::Run, job.run_id.as_str());
        let stored = self
            .inner
            .engine
            .ports()
            .store
            .get(&key)
            .await
            .map_err(|e| e.to_string())?;
        let run: Option<RunRecord> = stored
            .map(|d| serde_json::from_value(d.body))
            .transpose()
            .map_err(|e| format!("run record {key}: {e}"))?;
        let now = self.inner.clock.now();
        let not_before = match run {
            // Gone or final: this job has nothing left to do.
            None => return self.ack(st, job, name),
            Some(r) if r.status.is_final() => return self.ack(st, job, name),
            // Waiting for its previous robot, which readies it (with a new job).
            Some(r) if r.status == RunStatus::Pending && r.due_at.is_none() => {
                return self.ack(st, job, name);
            }
            Some(r) => {
                let mut t = r.due_at.unwrap_or(now);
                if r.status == RunStatus::Running
                    && let Some(c) = r.claim_until
                {
                    t = t.max(c);
                }
                t
            }
        };
        let not_before = if not_before > now {
            ceil_millis(not_before)
        } else {
            ceil_millis(now + TimeDelta::seconds(1))
        };
        tracing::debug!(run_id = %job.run_id, %not_before, "job held until its run can start");
        st.waiting.insert(name.to_string(), not_before);
        Ok(false)
    }
}

/// At most `share` of each tenant's work (`tenant_of`), in its order, the
/// tenants in turn (round-robin, in the order of their first work).
fn per_tenant_in_turn<T>(work: Vec<T>, share: usize, tenant_of: impl Fn(&T) -> &str) -> Vec<T> {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for w in work {
        let i = match group_of.get(tenant_of(&w)) {
            Some(&i) => i,
            None => {
                group_of.insert(tenant_of(&w).to_string(), groups.len());
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        if groups[i].len() < share {
            groups[i].push(w);
        }
    }
    round_robin(groups, usize::MAX)
}

/// Due jobs one lane hands to the engine at once ([`Engine::run_jobs`]).
pub const BATCH_RUNS: usize = 16;

/// Longest stretch of work between two yields to the other tasks of the
/// runtime thread.
pub const TIME_SLICE: Duration = Duration::from_millis(2);

/// Yields to the other tasks of the runtime thread once a time slice is used
/// up. The store's futures complete without ever yielding (SQLite is called
/// synchronously), so without this a long drain would hold its runtime
/// thread, and the requests queued behind it, for seconds; yielding after
/// every step instead would let 50 busy clients starve the worker.
struct Slice(Instant);

impl Slice {
    fn new() -> Slice {
        Slice(Instant::now())
    }

    async fn tick(&mut self) {
        if self.0.elapsed() >= TIME_SLICE {
            tokio::task::yield_now().await;
            self.0 = Instant::now();
        }
    }
}

/// What happened to one job of a lane.
enum LaneOutcome {
    /// Ran (or was void) and was acked.
    Acked,
    /// The engine could not run it yet (see [`Runtime::hold`]).
    NotYet,
    /// Failed; stays stored and is retried.
    Failed(String),
}

/// The lane of a job: a stable hash of its item, so one item's jobs stay in
/// order.
fn lane_of(job: &Job, lanes: usize) -> usize {
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

/// [`ClockControl`] of a runtime with a manual clock.
struct ManualControl(Runtime);

#[async_trait]
impl ClockControl for ManualControl {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    async fn advance(&self, seconds: i64) -> Result<DateTime<Utc>, String> {
        self.0
            .advance(TimeDelta::seconds(seconds))
            .await
            .map_err(|e| e.to_string())
    }
}
