//! The run log of an item, a page at a time (`GET /v1/items/{id}/runs`),
//! without reading the item's whole history (issue #11: no endpoint reads
//! an unbounded list).
//!
//! The log holds two kinds of record under the item, told apart by id:
//! robot runs `{item}:{visit}:{robot}` and trigger evaluations
//! `{item}:evt:{event}`. A page merges two streams, each read from the store
//! only as far as the page needs:
//!
//! - robot runs, visit by visit (`{item}:{visit}:` by prefix: one visit holds
//!   one run per robot its stage had when it began, at most
//!   [`MAX_PER_STAGE`](super::automation_limits) of them), each visit in
//!   stage order; the visits end at the item's current one (for a deleted
//!   item, at the visit its timeline counter was closed at);
//! - trigger evaluations, in id order (event ids are time-ordered), after
//!   the last one shown.
//!
//! The merge takes the earlier head by the log's order (creation, visit,
//! stage order, id), so a page is the log's order whenever each stream is.
//! The cursor is the position in both streams. One page reads at most
//! [`MAX_VISIT_READS`] visits: a run of visits without robots may end a page
//! early, with a cursor.
//!
//! Items deleted before the timeline counter carried visits leave no record
//! of their last visit: their log is read whole and paged in memory, as
//! before (the only path that still does).

use std::collections::VecDeque;

use crate::error::{EngineError, Result};
use crate::model::RunRecord;
use crate::planning::trigger_run_id;
use crate::ports::Kind;
use crate::store::{closed_visit, decode, timeline_counter_key};

use super::Engine;
use super::paging::{Page, PageRequest, hex, unhex};

/// Most visits one page reads.
pub(crate) const MAX_VISIT_READS: u64 = 32;

/// Where the next page starts: the next visit to read, the last run of that
/// visit already shown (its log key), the last trigger evaluation shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    visit: u64,
    run_after: Option<String>,
    evt_after: Option<String>,
}

const TAG: &str = "log";
const SEP: char = '\u{1f}';

impl Position {
    fn start() -> Self {
        Position {
            visit: 1,
            run_after: None,
            evt_after: None,
        }
    }

    fn encode(&self) -> String {
        let text = format!(
            "{TAG}{SEP}{}{SEP}{}{SEP}{}",
            self.visit,
            self.run_after.as_deref().unwrap_or_default(),
            self.evt_after.as_deref().unwrap_or_default()
        );
        hex(&text)
    }

    fn decode(cursor: &str) -> Result<Self> {
        let bad = || EngineError::bad("cursor", "not a cursor this server gave out");
        let text = unhex(cursor).ok_or_else(bad)?;
        let mut parts = text.split(SEP);
        if parts.next() != Some(TAG) {
            return Err(bad());
        }
        let visit = parts
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v >= 1)
            .ok_or_else(bad)?;
        let run_after = parts.next().ok_or_else(bad)?;
        let evt_after = parts.next().ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(Position {
            visit,
            run_after: some(run_after),
            evt_after: some(evt_after),
        })
    }
}

/// The log's order: creation, visit, stage order (trigger evaluations
/// last), id.
pub(crate) fn log_key(r: &RunRecord) -> String {
    let order = r.robot.as_ref().map_or(u64::MAX, |x| x.order);
    format!(
        "{}|{:020}|{:020}|{}",
        r.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        r.visit,
        order,
        r.id
    )
}

/// Where an item's log ends.
enum LastVisit {
    /// The item's current visit.
    Current(u64),
    /// The visit a deleted item was deleted in (its log may outlive it).
    Deleted(u64),
    /// Nothing says (an item deleted before counters carried visits).
    Unknown,
}

impl Engine {
    /// One page of the item's run log (robot runs and trigger evaluations),
    /// oldest first. An item that is gone: its log while any is left, else
    /// not found.
    pub async fn runs_page(
        &self,
        tenant: &str,
        item_id: &str,
        req: &PageRequest,
    ) -> Result<Page<RunRecord>> {
        req.check()?;
        let last_visit = self.last_visit(tenant, item_id).await?;
        let last = match &last_visit {
            LastVisit::Current(v) | LastVisit::Deleted(v) => *v,
            LastVisit::Unknown => return self.legacy_runs_page(tenant, item_id, req).await,
        };
        let at = match &req.cursor {
            Some(c) => Position::decode(c)?,
            None => Position::start(),
        };
        let first = req.cursor.is_none();
        let page = self
            .merge_page(tenant, item_id, last, at, req.limit)
            .await?;
        if first && page.items.is_empty() && !matches!(last_visit, LastVisit::Current(_)) {
            return Err(EngineError::not_found("item", item_id));
        }
        Ok(page)
    }

    async fn last_visit(&self, tenant: &str, item_id: &str) -> Result<LastVisit> {
        if let Some(item) = self.load_item(tenant, item_id).await? {
            return Ok(LastVisit::Current(item.visit));
        }
        let counter = self
            .ports
            .store
            .get(&timeline_counter_key(tenant, item_id))
            .await?;
        let closed = counter.as_ref().and_then(closed_visit);
        Ok(closed.map_or(LastVisit::Unknown, LastVisit::Deleted))
    }

    async fn merge_page(
        &self,
        tenant: &str,
        item_id: &str,
        last: u64,
        mut at: Position,
        limit: usize,
    ) -> Result<Page<RunRecord>> {
        let (mut evals, evals_more) = self
            .evaluations_after(tenant, item_id, at.evt_after.as_deref(), limit)
            .await?;
        let mut runs: VecDeque<RunRecord> = VecDeque::new();
        let mut reads = 0;
        let mut out = Vec::new();
        loop {
            while runs.is_empty() && at.visit <= last && reads < MAX_VISIT_READS {
                reads += 1;
                runs = self.visit_after(tenant, item_id, &at).await?;
                if runs.is_empty() {
                    at.visit += 1;
                    at.run_after = None;
                }
            }
            let runs_stalled = runs.is_empty() && at.visit <= last;
            if out.len() == limit {
                break;
            }
            let take_run = match (runs.front(), evals.front()) {
                (Some(r), Some(e)) => log_key(r) <= log_key(e),
                (Some(_), None) => true,
                (None, Some(_)) if !runs_stalled => false,
                _ => break,
            };
            if take_run {
                let r = runs.pop_front().expect("a run at the front");
                if runs.is_empty() {
                    at.visit += 1;
                    at.run_after = None;
                } else {
                    at.run_after = Some(log_key(&r));
                }
                out.push(r);
            } else {
                let e = evals.pop_front().expect("an evaluation at the front");
                at.evt_after = Some(e.id.clone());
                out.push(e);
            }
        }
        let done = runs.is_empty() && at.visit > last && evals.is_empty() && !evals_more;
        Ok(Page {
            items: out,
            next_cursor: (!done).then(|| at.encode()),
        })
    }

    /// The runs of `at.visit` after `at.run_after`, in the log's order.
    async fn visit_after(
        &self,
        tenant: &str,
        item_id: &str,
        at: &Position,
    ) -> Result<VecDeque<RunRecord>> {
        let mut runs = self.visit_runs(tenant, item_id, at.visit).await?;
        runs.sort_by_cached_key(log_key);
        Ok(runs
            .into_iter()
            .filter(|r| at.run_after.as_ref().is_none_or(|a| log_key(r) > *a))
            .collect())
    }

    /// Up to `limit` trigger evaluations after `after`, in id order, and
    /// whether more follow.
    async fn evaluations_after(
        &self,
        tenant: &str,
        item_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(VecDeque<RunRecord>, bool)> {
        let prefix = trigger_run_id(item_id, "");
        let from = after.unwrap_or(&prefix);
        let docs = self
            .ports
            .store
            .list_page(tenant, Kind::Run, item_id, Some(from), limit + 1)
            .await?;
        let mut evals = docs
            .iter()
            .take_while(|d| d.key.id.starts_with(&prefix))
            .map(decode)
            .collect::<Result<VecDeque<RunRecord>>>()?;
        let more = evals.len() > limit;
        evals.truncate(limit);
        Ok((evals, more))
    }

    /// The whole log of an item nothing says the last visit of, paged in
    /// memory by the log's order.
    async fn legacy_runs_page(
        &self,
        tenant: &str,
        item_id: &str,
        req: &PageRequest,
    ) -> Result<Page<RunRecord>> {
        let mut runs: Vec<RunRecord> = self.list(tenant, item_id).await?;
        if runs.is_empty() {
            return Err(EngineError::not_found("item", item_id));
        }
        runs.sort_by_cached_key(log_key);
        super::lists::page_sorted(runs, log_key, req)
    }

    /// The item's whole run log, oldest first (every page of
    /// [`Engine::runs_page`]): for tests and tools, not for the API.
    pub async fn runs(&self, tenant: &str, item_id: &str) -> Result<Vec<RunRecord>> {
        let mut req = PageRequest {
            limit: super::paging::MAX_PAGE,
            cursor: None,
        };
        let mut all = Vec::new();
        loop {
            let page = self.runs_page(tenant, item_id, &req).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => return Ok(all),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_survives_its_cursor_and_other_cursors_are_refused() {
        let p = Position {
            visit: 12,
            run_after: Some("2026-01-01T00:00:00Z|x".into()),
            evt_after: Some("item-1:evt:evt-3".into()),
        };
        assert_eq!(Position::decode(&p.encode()).unwrap(), p);
        assert_eq!(
            Position::decode(&Position::start().encode()).unwrap(),
            Position::start()
        );
        for bad in ["", "zz", "6c6f67", "abc"] {
            assert!(Position::decode(bad).is_err(), "{bad}");
        }
        let zero = Position {
            visit: 0,
            ..Position::start()
        };
        assert!(Position::decode(&zero.encode()).is_err());
    }
}
