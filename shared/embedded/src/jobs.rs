//! [`SqliteJobs`]: robot runs to execute now or later, on the `jobs` table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crm_core::ports::{Job, JobQueue, PortError, Scheduler, schedule_name};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::{Db, EmbeddedError, count, sql_limit};

/// A queued job: if a row of that name exists, the earlier delivery wins and
/// the row stops being a timer (so `cancel` cannot drop a queued job).
const SEND: &str = "INSERT INTO jobs (name, tenant, run_id, due_at_ms, seq, scheduled, body) \
                    VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) \
                    ON CONFLICT (name) DO UPDATE SET \
                    scheduled = 0, \
                    body = CASE WHEN excluded.due_at_ms < jobs.due_at_ms \
                                THEN excluded.body ELSE jobs.body END, \
                    seq = CASE WHEN excluded.due_at_ms < jobs.due_at_ms \
                               THEN excluded.seq ELSE jobs.seq END, \
                    due_at_ms = MIN(jobs.due_at_ms, excluded.due_at_ms)";
/// A timer: an existing row of that name is kept as it is.
const SCHEDULE: &str =
    "INSERT OR IGNORE INTO jobs (name, tenant, run_id, due_at_ms, seq, scheduled, body) \
     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)";
const CANCEL: &str = "DELETE FROM jobs WHERE name = ?1 AND scheduled = 1";
const IS_SCHEDULED: &str = "SELECT 1 FROM jobs WHERE name = ?1 AND scheduled = 1";
const DUE: &str = "SELECT body FROM jobs WHERE due_at_ms <= ?1 ORDER BY due_at_ms, seq LIMIT ?2";
const ACK: &str = "DELETE FROM jobs WHERE name = ?1";
const NEXT_DUE: &str = "SELECT MIN(due_at_ms) FROM jobs";
const LEN: &str = "SELECT COUNT(*) FROM jobs";

/// [`JobQueue`] and [`Scheduler`] on SQLite, with the semantics of
/// `crm_core::memory::MemJobs`, for the local runtime.
///
/// Every job is one row keyed by [`Job::schedule_name`], ordered by due time
/// then arrival. The runtime polls [`SqliteJobs::due`], runs each job and
/// then [`SqliteJobs::ack`]s it; a job taken but not acked before a crash is
/// offered again after restart (runs are idempotent by run id).
///
/// Differences from `MemJobs`, all allowed by the ports' at-least-once
/// contract: a job sent while a row of the same name exists is merged into it
/// (delivered once, at the earlier of the two due times, and no longer
/// cancellable); a timer scheduled while a row of the same name exists (even
/// one already returned by `due` but not yet acked) is not added. Due times
/// are kept in whole milliseconds, rounded up: a job is never returned before
/// its `due_at`.
#[derive(Clone)]
pub struct SqliteJobs {
    db: Db,
}

/// Due time in whole milliseconds, rounded up.
fn due_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    if t.timestamp_subsec_nanos() % 1_000_000 == 0 {
        ms
    } else {
        ms + 1
    }
}

impl SqliteJobs {
    /// Jobs on `db`.
    pub fn new(db: Db) -> Self {
        SqliteJobs { db }
    }

    /// Up to `limit` jobs due at or before `now`, earliest first. They stay
    /// stored until [`SqliteJobs::ack`]: calling `due` again returns them again.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, EmbeddedError> {
        let bodies = {
            let g = self.db.lock();
            let mut st = g.conn.prepare_cached(DUE)?;
            st.query_map(params![now.timestamp_millis(), sql_limit(limit)], |row| {
                row.get::<_, String>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    /// Remove a job (after it ran, or was found void). Unknown jobs are fine.
    pub fn ack(&self, job: &Job) -> Result<(), EmbeddedError> {
        let g = self.db.lock();
        g.conn.prepare_cached(ACK)?.execute([job.schedule_name()])?;
        Ok(())
    }

    /// Due time of the earliest stored job (rounded up to the millisecond).
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, EmbeddedError> {
        let g = self.db.lock();
        let ms: Option<i64> = g
            .conn
            .prepare_cached(NEXT_DUE)?
            .query_row([], |row| row.get(0))?;
        Ok(ms.and_then(DateTime::from_timestamp_millis))
    }

    /// Number of stored jobs (queued, timers, and taken but not acked).
    pub fn len(&self) -> Result<usize, EmbeddedError> {
        let g = self.db.lock();
        let n: i64 = g.conn.prepare_cached(LEN)?.query_row([], |row| row.get(0))?;
        Ok(count(n))
    }

    /// Whether no job is stored.
    pub fn is_empty(&self) -> Result<bool, EmbeddedError> {
        Ok(self.len()? == 0)
    }

    /// Is a timer for this run currently stored?
    pub fn is_scheduled(&self, tenant: &str, run_id: &str) -> Result<bool, EmbeddedError> {
        let g = self.db.lock();
        let found = g
            .conn
            .prepare_cached(IS_SCHEDULED)?
            .query_row([schedule_name(tenant, run_id)], |_| Ok(()))
            .optional()?;
        Ok(found.is_some())
    }

    /// Store `jobs` with `sql` ([`SEND`] or [`SCHEDULE`]) in one transaction.
    fn insert(&self, sql: &str, jobs: &[Job]) -> Result<(), EmbeddedError> {
        let rows = jobs
            .iter()
            .map(|job| Ok((job, job.schedule_name(), serde_json::to_string(job)?)))
            .collect::<Result<Vec<_>, EmbeddedError>>()?;
        let mut g = self.db.lock();
        let mut seq = g.job_seq;
        let tx = g
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(sql)?;
            for (job, name, body) in &rows {
                seq += 1;
                st.execute(params![
                    name,
                    job.tenant,
                    job.run_id,
                    due_ms(job.due_at),
                    seq,
                    body
                ])?;
            }
        }
        tx.commit()?;
        g.job_seq = seq;
        Ok(())
    }
}

#[async_trait]
impl JobQueue for SqliteJobs {
    async fn send(&self, jobs: Vec<Job>) -> Result<(), PortError> {
        Ok(self.insert(SEND, &jobs)?)
    }
}

#[async_trait]
impl Scheduler for SqliteJobs {
    async fn schedule(&self, job: Job) -> Result<(), PortError> {
        Ok(self.insert(SCHEDULE, std::slice::from_ref(&job))?)
    }

    async fn cancel(&self, tenant: &str, run_id: &str) -> Result<(), PortError> {
        let g = self.db.lock();
        g.conn
            .prepare_cached(CANCEL)
            .and_then(|mut st| st.execute([schedule_name(tenant, run_id)]))
            .map_err(EmbeddedError::from)?;
        Ok(())
    }
}
