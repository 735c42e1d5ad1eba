//! The runtime's tunables and errors.

use super::*;

/// Tunables of the runtime.
#[derive(Clone)]
pub struct RuntimeOptions {
    /// How many events or due jobs one pass takes from the queues (all
    /// tenants together, each tenant in turn), and a tenant's share of a
    /// pass's item evaluations of its events.
    pub batch: usize,
    /// How many jobs of different items may run at the same time (jobs of
    /// one item always run one after the other, in due order). Default 1, or
    /// `CRM_WORKER_LANES`.
    pub lanes: usize,
    /// Due jobs one lane runs and commits at once (default [`BATCH_RUNS`],
    /// or `CRM_BATCH_RUNS`).
    pub batch_runs: usize,
    /// The engine's tunables.
    pub engine: EngineConfig,
    /// Outbound email/SMS provider (default: [`LogDelivery`]).
    pub delivery: Arc<dyn Delivery>,
    /// Back-pressure: a tenant's writes through the API wait while about
    /// this many of that tenant's transactional-outbox records are pending
    /// (the worker reads them a page at a time, so its memory does not
    /// depend on this). Default 20,000 (a few seconds of planning), or
    /// `CRM_MAX_BACKLOG`.
    pub max_backlog: usize,
    /// A tenant's share of the outbox in one pass: at most this many of its
    /// records are processed before the pass moves on to events and due
    /// jobs (every tenant's robots run between two shares). Default 5,000.
    pub outbox_share: usize,
    /// Where document templates and documents are kept (default: in
    /// memory; [`Runtime::with_db`] uses the database's data directory,
    /// `<data>/blobs`).
    pub blobs: Option<Arc<dyn crm_core::blob_store::BlobStore>>,
    /// Outbound HTTP (webhooks; default: the real caller, with the
    /// destination guard and `CRM_WEBHOOK_ALLOW` installed).
    pub http: Arc<dyn crm_core::http_call::HttpCaller>,
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
            batch_runs: std::env::var(BATCH_RUNS_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(BATCH_RUNS),
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
                .unwrap_or(20_000),
            outbox_share: 5_000,
            blobs: None,
            http: {
                crm_aws::http_caller::install_allow_list_from_env();
                Arc::new(crm_aws::http_caller::ReqwestCaller::new())
            },
        }
    }
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("batch", &self.batch)
            .field("lanes", &self.lanes)
            .field("batch_runs", &self.batch_runs)
            .field("engine", &self.engine)
            .field("max_backlog", &self.max_backlog)
            .field("outbox_share", &self.outbox_share)
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
