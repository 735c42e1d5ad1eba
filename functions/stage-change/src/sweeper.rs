//! The sweeper: invoked once a minute (an EventBridge Scheduler schedule
//! with the payload `{"sweep": true}`), it processes every outbox row older
//! than [`SWEEP_AGE`], found through the outbox time index
//! ([`crm_aws::outbox_index`]) shard by shard, page by page.
//!
//! The stream path normally deletes a row within seconds of its write; a row
//! still there after [`SWEEP_AGE`] is one the stream path is still retrying
//! or gave up on (after `MaximumRetryAttempts`, the stream's on-failure
//! destination keeps only shard pointers that expire). Processing is
//! idempotent ([`Engine::process_outbox`]), so a row both paths process has
//! one effect: the second finds the runs planned and the row gone.

use std::time::SystemTime;

use chrono::Duration;
use crm_aws::OutboxIndex;
use crm_aws::lambda::near;
use crm_aws::outbox_index::{Cursor, SHARDS};
use crm_core::Engine;
use futures::future;
use serde::Serialize;
use tracing::{error, info, warn};

use crate::ordered::{Outcome, Work, process_ordered};

/// Rows younger than this are left to the stream path (its normal latency
/// is well under a second; 3 minutes also covers a few of its retries).
pub const SWEEP_AGE: Duration = Duration::minutes(3);
/// Index entries read per query page.
pub const PAGE_SIZE: i32 = 100;
/// Items processed at once per shard (all shards run at once).
pub const SHARD_CONCURRENCY: usize = 4;

/// How a sweep pages through the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOptions {
    /// Rows younger than this are left alone.
    pub age: Duration,
    /// Index entries per query page.
    pub page_size: i32,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            age: SWEEP_AGE,
            page_size: PAGE_SIZE,
        }
    }
}

/// What one sweep did (also the invocation's response and its log line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Index pages read (queries).
    pub pages: usize,
    /// Index entries listed (older than the age threshold).
    pub listed: usize,
    /// Rows processed by this sweep.
    pub processed: usize,
    /// Listed rows already gone (processed by the stream path meanwhile).
    pub gone: usize,
    /// Rows whose processing failed (the next sweep retries them).
    pub failed: usize,
    /// Rows not started because the deadline was near.
    pub left: usize,
    /// Shards whose index could not be read (retried by the next sweep).
    pub shard_errors: usize,
}

impl SweepReport {
    fn add(mut self, o: SweepReport) -> SweepReport {
        self.pages += o.pages;
        self.listed += o.listed;
        self.processed += o.processed;
        self.gone += o.gone;
        self.failed += o.failed;
        self.left += o.left;
        self.shard_errors += o.shard_errors;
        self
    }
}

/// Sweep every shard at once for rows older than [`SWEEP_AGE`] at the
/// engine's clock; stop starting work near `deadline`.
pub async fn sweep(
    engine: &Engine,
    index: &OutboxIndex,
    deadline: Option<SystemTime>,
) -> SweepReport {
    sweep_with(engine, index, deadline, SweepOptions::default()).await
}

/// [`sweep`] with other options (tests of paging).
pub async fn sweep_with(
    engine: &Engine,
    index: &OutboxIndex,
    deadline: Option<SystemTime>,
    options: SweepOptions,
) -> SweepReport {
    let before = engine.ports().clock.now() - options.age;
    let shards = (0..SHARDS)
        .map(|shard| sweep_shard(engine, index, shard, before, options.page_size, deadline));
    let report = future::join_all(shards)
        .await
        .into_iter()
        .fold(SweepReport::default(), SweepReport::add);
    info!(
        pages = report.pages,
        listed = report.listed,
        processed = report.processed,
        gone = report.gone,
        failed = report.failed,
        left = report.left,
        shard_errors = report.shard_errors,
        "sweep done"
    );
    report
}

/// One shard, page by page, oldest first.
async fn sweep_shard(
    engine: &Engine,
    index: &OutboxIndex,
    shard: u32,
    before: chrono::DateTime<chrono::Utc>,
    page_size: i32,
    deadline: Option<SystemTime>,
) -> SweepReport {
    let mut report = SweepReport::default();
    let mut cursor: Cursor = None;
    loop {
        if near(deadline) {
            warn!(
                shard,
                "Lambda deadline near: the rest of the shard waits for the next sweep"
            );
            break;
        }
        let page = match index
            .older_than(shard, before, cursor.take(), page_size)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                error!(shard, error = %e, "outbox index not readable");
                report.shard_errors += 1;
                break;
            }
        };
        report.pages += 1;
        report.listed += page.keys.len();
        // The index is eventually consistent and projects keys only: read
        // the rows themselves (strongly consistent) to know which remain.
        let rows = match engine.ports().store.get_many(&page.keys).await {
            Ok(rows) => rows,
            Err(e) => {
                error!(shard, error = %e, "outbox rows not readable");
                report.failed += page.keys.len();
                break;
            }
        };
        let works: Vec<Work> = rows
            .into_iter()
            .flatten()
            .map(|doc| Work {
                name: doc.key.id.clone(),
                doc,
            })
            .collect();
        report.gone += page.keys.len() - works.len();
        for outcome in process_ordered(engine, &works, SHARD_CONCURRENCY, deadline).await {
            match outcome {
                Outcome::Done => report.processed += 1,
                Outcome::Failed => report.failed += 1,
                Outcome::NotStarted => report.left += 1,
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    report
}
