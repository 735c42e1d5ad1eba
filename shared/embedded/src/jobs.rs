//! [`SqliteJobs`]: robot runs to execute now or later, on the `jobs` table.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crm_core::ports::{Job, JobQueue, PortError, Scheduler, schedule_name};
use crm_core::work_source::{DueJobs, round_robin};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{Db, EmbeddedError, count, sql_limit};

const SEQ_OF: &str = "SELECT seq FROM jobs WHERE name = ?1";
/// A new row, or one replacing a taken row of the same name.
const PUT: &str = "INSERT OR REPLACE INTO jobs \
                   (name, tenant, run_id, due_at_ns, seq, scheduled, body) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// A queued job meeting a waiting row of the same name: the earlier delivery
/// wins and the row stops being a timer (so `cancel` cannot drop it).
const MERGE_SENT: &str = "UPDATE jobs SET scheduled = 0, \
                          body = CASE WHEN ?2 < due_at_ns THEN ?4 ELSE body END, \
                          seq = CASE WHEN ?2 < due_at_ns THEN ?3 ELSE seq END, \
                          due_at_ns = MIN(due_at_ns, ?2) \
                          WHERE name = ?1";
/// `?2` is the seq of the taken row of that name, or NULL.
const CANCEL: &str = "DELETE FROM jobs WHERE name = ?1 AND scheduled = 1 AND seq IS NOT ?2";
const IS_SCHEDULED: &str = "SELECT 1 FROM jobs WHERE name = ?1 AND scheduled = 1 AND seq IS NOT ?2";
pub(crate) const DUE: &str = "SELECT name, seq, body FROM jobs WHERE due_at_ns <= ?1 \
                              ORDER BY due_at_ns, seq LIMIT ?2";
const ACK_TAKEN: &str = "DELETE FROM jobs WHERE name = ?1 AND seq = ?2";
const ACK_ANY: &str = "DELETE FROM jobs WHERE name = ?1";
const NEXT_DUE: &str = "SELECT body FROM jobs ORDER BY due_at_ns, seq LIMIT 1";
const LEN: &str = "SELECT COUNT(*) FROM jobs";
/// Every tenant with stored jobs, found through `jobs_by_tenant_due` one
/// index probe per tenant.
pub(crate) const TENANTS: &str = "WITH RECURSIVE t(tenant) AS ( \
                           SELECT MIN(tenant) FROM jobs \
                           UNION ALL \
                           SELECT (SELECT MIN(tenant) FROM jobs WHERE tenant > t.tenant) \
                           FROM t WHERE t.tenant IS NOT NULL) \
                       SELECT tenant FROM t WHERE tenant IS NOT NULL";
/// The due jobs of one tenant, through `jobs_by_tenant_due`.
pub(crate) const DUE_TENANT: &str = "SELECT name, seq, body, due_at_ns FROM jobs \
                          WHERE tenant = ?1 AND due_at_ns <= ?2 \
                          ORDER BY due_at_ns, seq LIMIT ?3";

/// [`JobQueue`], [`Scheduler`] and their consumer side [`DueJobs`] on
/// SQLite, with the semantics of `crm_core::memory::MemJobs`, for the local
/// runtime.
///
/// Every job is one row keyed by [`Job::schedule_name`], ordered by due time
/// then arrival. The runtime polls [`SqliteJobs::due`] (through
/// [`DueJobs::take_due`]), runs each job and then [`SqliteJobs::ack`]s it. A job returned by `due` counts as taken (as
/// if popped from `MemJobs`): a job sent or scheduled under its name while it
/// runs (the runner reschedules a run that came early) replaces it and is not
/// removed by the `ack` of the taken one, and `cancel` leaves a taken job
/// alone. Being taken lives in memory only: a job taken but not acked before
/// a crash is offered again after restart (runs are idempotent by run id).
///
/// Differences from `MemJobs`, all allowed by the ports' at-least-once
/// contract: a job sent while a waiting row of the same name exists is merged
/// into it (delivered once, at the earlier of the two due times, no longer
/// cancellable), and a timer scheduled while a waiting queued job of the same
/// name exists is not added.
#[derive(Clone)]
pub struct SqliteJobs {
    db: Db,
}

/// A time as epoch nanoseconds, exact from 1677 to 2262 and clamped beyond
/// (due times out there still sort correctly against every other job).
fn epoch_ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// How a job arrives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    /// [`JobQueue::send`].
    Queue,
    /// [`Scheduler::schedule`].
    Timer,
}

/// Store one job; `taken` maps names to the seq of their taken row.
fn insert(
    conn: &Connection,
    taken: &HashMap<String, i64>,
    via: Via,
    job: &Job,
    seq: i64,
) -> Result<(), EmbeddedError> {
    let name = job.schedule_name();
    let body = serde_json::to_string(job)?;
    let due = epoch_ns(job.due_at);
    let existing: Option<i64> = conn
        .prepare_cached(SEQ_OF)?
        .query_row([&name], |row| row.get(0))
        .optional()?;
    let waiting = existing.is_some_and(|s| taken.get(&name) != Some(&s));
    match (waiting, via) {
        (false, _) => {
            conn.prepare_cached(PUT)?.execute(params![
                name,
                job.tenant,
                job.run_id,
                due,
                seq,
                via == Via::Timer,
                body
            ])?;
        }
        (true, Via::Queue) => {
            conn.prepare_cached(MERGE_SENT)?
                .execute(params![name, due, seq, body])?;
        }
        // Scheduling the same job twice keeps one timer.
        (true, Via::Timer) => {}
    }
    Ok(())
}

impl SqliteJobs {
    /// Jobs on `db`.
    pub fn new(db: Db) -> Self {
        SqliteJobs { db }
    }

    /// Up to `limit` jobs due at or before `now`, earliest first, marked as
    /// taken. They stay stored until [`SqliteJobs::ack`]: calling `due` again
    /// returns them again. A row that cannot be read is parked (see
    /// [`Db::parked`](crate::Db::parked)), not returned.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, EmbeddedError> {
        let mut g = self.db.lock();
        let rows = g
            .conn
            .prepare_cached(DUE)?
            .query_map(params![epoch_ns(now), sql_limit(limit)], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut jobs = Vec::with_capacity(rows.len());
        for (name, seq, body) in rows {
            match serde_json::from_str(&body) {
                Ok(job) => {
                    jobs.push(job);
                    g.taken_jobs.insert(name, seq);
                }
                Err(e) => crate::park(
                    &mut g.conn,
                    "jobs",
                    &name,
                    &body,
                    &e.to_string(),
                    (ACK_TAKEN, &[&name, &seq]),
                )?,
            }
        }
        Ok(jobs)
    }

    /// [`DueJobs::take_due_fair`]: the first `per_tenant` due jobs of every
    /// tenant (tenants in order of their first due job), round-robin, cut to
    /// `limit`, marked as taken. One query for the tenants, one per tenant.
    pub fn due_fair(
        &self,
        now: DateTime<Utc>,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<Job>, EmbeddedError> {
        if per_tenant == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        let mut g = self.db.lock();
        let tenants = g
            .conn
            .prepare_cached(TENANTS)?
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let now_ns = epoch_ns(now);
        // (head due time, head seq, jobs with their names and seqs)
        let mut groups = Vec::new();
        for tenant in tenants {
            let rows = g
                .conn
                .prepare_cached(DUE_TENANT)?
                .query_map(params![tenant, now_ns, sql_limit(per_tenant)], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let Some(head) = rows.first().map(|r| (r.3, r.1)) else {
                continue;
            };
            let mut group = Vec::with_capacity(rows.len());
            for (name, seq, body, _) in rows {
                match serde_json::from_str::<Job>(&body) {
                    Ok(job) => group.push((name, seq, job)),
                    Err(e) => crate::park(
                        &mut g.conn,
                        "jobs",
                        &name,
                        &body,
                        &e.to_string(),
                        (ACK_TAKEN, &[&name, &seq]),
                    )?,
                }
            }
            groups.push((head, group));
        }
        groups.sort_by_key(|(head, _)| *head);
        let taken = round_robin(groups.into_iter().map(|(_, g)| g).collect(), limit);
        let mut jobs = Vec::with_capacity(taken.len());
        for (name, seq, job) in taken {
            g.taken_jobs.insert(name, seq);
            jobs.push(job);
        }
        Ok(jobs)
    }

    /// Remove a job after it ran (or was found void). For a taken job this
    /// removes the row that was taken, not one that replaced it since; other
    /// jobs are removed by name. Unknown jobs are fine.
    pub fn ack(&self, job: &Job) -> Result<(), EmbeddedError> {
        let name = job.schedule_name();
        let mut g = self.db.lock();
        match g.taken_jobs.remove(&name) {
            Some(seq) => g
                .conn
                .prepare_cached(ACK_TAKEN)?
                .execute(params![name, seq])?,
            None => g.conn.prepare_cached(ACK_ANY)?.execute([name])?,
        };
        Ok(())
    }

    /// [`SqliteJobs::ack`] for several jobs in one transaction.
    pub fn ack_many(&self, jobs: &[Job]) -> Result<(), EmbeddedError> {
        let mut g = self.db.lock();
        let g = &mut *g;
        let names: Vec<(String, Option<i64>)> = jobs
            .iter()
            .map(|j| {
                let name = j.schedule_name();
                let seq = g.taken_jobs.get(&name).copied();
                (name, seq)
            })
            .collect();
        let tx = g.conn.transaction()?;
        for (name, seq) in &names {
            match seq {
                Some(seq) => tx.prepare_cached(ACK_TAKEN)?.execute(params![name, seq])?,
                None => tx.prepare_cached(ACK_ANY)?.execute([name])?,
            };
        }
        tx.commit()?;
        for (name, _) in names {
            g.taken_jobs.remove(&name);
        }
        Ok(())
    }

    /// Due time of the earliest stored job.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, EmbeddedError> {
        let body: Option<String> = {
            let g = self.db.lock();
            g.conn
                .prepare_cached(NEXT_DUE)?
                .query_row([], |row| row.get(0))
                .optional()?
        };
        body.map(|b| Ok(serde_json::from_str::<Job>(&b)?.due_at))
            .transpose()
    }

    /// Number of stored jobs (waiting, and taken but not acked).
    pub fn len(&self) -> Result<usize, EmbeddedError> {
        let g = self.db.lock();
        let n: i64 = g
            .conn
            .prepare_cached(LEN)?
            .query_row([], |row| row.get(0))?;
        Ok(count(n))
    }

    /// Whether no job is stored.
    pub fn is_empty(&self) -> Result<bool, EmbeddedError> {
        Ok(self.len()? == 0)
    }

    /// Is a timer for this run waiting (stored and not taken)?
    pub fn is_scheduled(&self, tenant: &str, run_id: &str) -> Result<bool, EmbeddedError> {
        let name = schedule_name(tenant, run_id);
        let g = self.db.lock();
        let found = g
            .conn
            .prepare_cached(IS_SCHEDULED)?
            .query_row(params![name, g.taken_jobs.get(&name)], |_| Ok(()))
            .optional()?;
        Ok(found.is_some())
    }

    /// Store `jobs` in one transaction.
    fn store(&self, via: Via, jobs: &[Job]) -> Result<(), EmbeddedError> {
        let mut g = self.db.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut seq = inner.job_seq;
        for job in jobs {
            seq += 1;
            insert(&tx, &inner.taken_jobs, via, job, seq)?;
        }
        tx.commit()?;
        inner.job_seq = seq;
        Ok(())
    }
}

#[async_trait]
impl JobQueue for SqliteJobs {
    async fn send(&self, jobs: Vec<Job>) -> Result<(), PortError> {
        Ok(self.store(Via::Queue, &jobs)?)
    }
}

#[async_trait]
impl Scheduler for SqliteJobs {
    async fn schedule(&self, job: Job) -> Result<(), PortError> {
        Ok(self.store(Via::Timer, std::slice::from_ref(&job))?)
    }

    async fn cancel(&self, tenant: &str, run_id: &str) -> Result<(), PortError> {
        let name = schedule_name(tenant, run_id);
        let g = self.db.lock();
        g.conn
            .prepare_cached(CANCEL)
            .and_then(|mut st| st.execute(params![name, g.taken_jobs.get(&name)]))
            .map_err(EmbeddedError::from)?;
        Ok(())
    }
}

impl DueJobs for SqliteJobs {
    fn take_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, PortError> {
        Ok(self.due(now, limit)?)
    }

    fn take_due_fair(
        &self,
        now: DateTime<Utc>,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<Job>, PortError> {
        Ok(self.due_fair(now, per_tenant, limit)?)
    }

    fn ack(&self, job: &Job) -> Result<(), PortError> {
        Ok(SqliteJobs::ack(self, job)?)
    }

    fn ack_many(&self, jobs: &[Job]) -> Result<(), PortError> {
        Ok(SqliteJobs::ack_many(self, jobs)?)
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        Ok(SqliteJobs::next_due(self)?)
    }

    fn stored(&self) -> Result<usize, PortError> {
        Ok(self.len()?)
    }

    fn parked(&self) -> Result<usize, PortError> {
        Ok(self.db.parked_in("jobs")?)
    }
}
