//! Cancelling a deleted robot's pending runs (SPEC: "deleting a robot
//! cancels its pending runs", recorded, timers cancelled), found through the
//! robot's index of pending runs ([`PendingRun`]) a page at a time, never the
//! whole index at once, as a durable job: the robot's deletion writes an
//! outbox record ([`OutboxRecord::CancelRobotRuns`]) in its own transaction;
//! the request then cancels the first page itself (a robot with few waiting
//! runs shows them cancelled when the DELETE answers), and the outbox
//! processor (the local worker; on AWS the stage-change function) cancels
//! the rest, a page per record, each record replaced by the next page's in
//! the transaction that deletes it. A crash part way loses nothing (the
//! record stays, or the next one is written), and a robot with 100,000
//! waiting runs no longer holds the request for all of them. A run being
//! performed right now finishes; one the index does not list yet (planned
//! while the robot was deleted) is cancelled by the runner, which checks
//! that the robot still exists.

use super::Engine;
use crate::error::{EngineError, Result};
use crate::model::{OutboxRecord, RunRecord, RunStatus};
use crate::ports::{Cond, DocKey, Kind, StoreError, Write};
use crate::store::{PendingRun, decode, put, record_doc};

/// The reason recorded on the pending runs of a deleted robot.
pub(crate) const ROBOT_DELETED: &str = "cancelled: robot deleted";

/// Pending runs cancelled per step (in the request, then per outbox record)
/// by default ([`crate::EngineConfig::cancel_page`]): per run one read and
/// one transaction, so a step stays well inside a request's and a
/// function's time.
pub const CANCEL_PAGE: usize = 100;

impl Engine {
    /// The outbox record that cancels a deleted robot's runs from its
    /// `page`-th page, after the indexed run `after` (written with the
    /// deletion, then by each page for the next).
    pub(crate) fn runs_cancel_write(
        &self,
        tenant: &str,
        robot_id: &str,
        page: u32,
        after: Option<String>,
    ) -> Write {
        self.outbox_write(
            tenant,
            &format!("robot-deleted|{robot_id}|{page:06}"),
            &OutboxRecord::CancelRobotRuns {
                tenant: tenant.to_string(),
                robot_id: robot_id.to_string(),
                page,
                after,
            },
        )
    }

    /// Cancel one page of a deleted robot's indexed runs after `after`;
    /// `Some(last)` when the page was full (more may follow it).
    pub(crate) async fn cancel_robot_runs_page(
        &self,
        tenant: &str,
        robot_id: &str,
        after: Option<&str>,
    ) -> Result<Option<String>> {
        let page = self.config.cancel_page.max(1);
        let docs = self
            .ports
            .store
            .list_page(tenant, Kind::PendingRun, robot_id, after, page)
            .await?;
        for d in &docs {
            self.cancel_indexed_run(tenant, &decode::<PendingRun>(d)?)
                .await?;
        }
        Ok(docs
            .last()
            .filter(|_| docs.len() == page)
            .map(|d| d.key.id.clone()))
    }

    /// The work of a [`OutboxRecord::CancelRobotRuns`] record: cancel its
    /// page; the next page's record when there may be more (written by
    /// `process_outbox` with the record's deletion, so a repeated record
    /// carries the work on once).
    pub(crate) async fn cancel_runs_step(
        &self,
        tenant: &str,
        robot_id: &str,
        page: u32,
        after: Option<&str>,
    ) -> Result<Option<Write>> {
        let next = self.cancel_robot_runs_page(tenant, robot_id, after).await?;
        Ok(next.map(|last| self.runs_cancel_write(tenant, robot_id, page + 1, Some(last))))
    }

    async fn cancel_indexed_run(&self, tenant: &str, p: &PendingRun) -> Result<()> {
        let mut tries = 0;
        loop {
            match self.cancel_deleted_robot_run(tenant, p).await {
                Err(EngineError::Store(StoreError::Conflict { .. }))
                    if tries < self.config.max_retries =>
                {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    async fn cancel_deleted_robot_run(&self, tenant: &str, p: &PendingRun) -> Result<()> {
        let now = self.now();
        let unindex = Write::Delete {
            key: DocKey::new(tenant, Kind::PendingRun, &p.run_id),
            parent: Some(p.robot_id.clone()),
            cond: Cond::Any,
        };
        let run = match self.load::<RunRecord>(tenant, &p.run_id).await? {
            Some((run, v)) if run.status == RunStatus::Pending => (run, v),
            // Being performed (or performed and waiting for its webhook's
            // answer): it finishes (and leaves the index) by itself.
            Some((run, _)) if matches!(run.status, RunStatus::Running | RunStatus::Waiting) => {
                return Ok(());
            }
            _ => {
                self.ports.store.transact(vec![unindex]).await?;
                return Ok(());
            }
        };
        let (mut run, v) = run;
        run.status = RunStatus::Cancelled;
        run.reason = Some(ROBOT_DELETED.to_string());
        run.finished_at = Some(now);
        run.version = v + 1;
        let mut writes = vec![
            put(record_doc(tenant, &run, run.version), Cond::Version(v)),
            unindex,
        ];
        // The robot waiting for this one now waits for the one before it,
        // or, when that one has finished, starts its delay now.
        if let Some(next) = &run.next_run {
            let before = match &run.after_run {
                Some(a) => self.load::<RunRecord>(tenant, a).await?,
                None => None,
            };
            match before {
                Some((mut b, bv)) if !b.status.is_final() => {
                    b.next_run = Some(next.clone());
                    b.version = bv + 1;
                    writes.push(put(record_doc(tenant, &b, b.version), Cond::Version(bv)));
                    if let Some((mut f, fv)) = self.load::<RunRecord>(tenant, next).await? {
                        f.after_run = Some(b.id.clone());
                        f.version = fv + 1;
                        writes.push(put(record_doc(tenant, &f, f.version), Cond::Version(fv)));
                    }
                }
                _ => {
                    if let Some(item) = self.load_item(tenant, &run.item_id).await?
                        && item.visit == run.visit
                    {
                        writes.extend(self.ready_follower(tenant, next, &item, now).await?);
                        writes.push(Write::Check {
                            key: DocKey::new(tenant, Kind::Item, &item.id),
                            cond: Cond::Version(item.version),
                        });
                    }
                }
            }
        }
        self.ports.store.transact(writes).await?;
        if run.due_at.is_some_and(|due| due > now) {
            self.ports.scheduler.cancel(tenant, &run.id).await?;
        }
        Ok(())
    }
}
