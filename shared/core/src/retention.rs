//! Retention (issue #11): how long finished run records and delivered (or
//! failed) outbound messages are kept.
//!
//! The engine's store stamps an expiry on every write that makes one of them
//! final ([`RetentionStamp`], a [`TransactHook`] around the engine's store,
//! so every flow that writes a run or a message is covered): a robot run or
//! trigger evaluation whose status is final (`done`, `skipped`,
//! `cancelled`, `failed`…) expires [`Retention::runs`] after that write, a
//! message `sent`, `failed`, `bounced` or `complained`
//! [`Retention::messages`] after it. A run still
//! `pending`, `running` or `waiting`, and a message `queued` or `sending`,
//! are written without an expiry (a failed message put back in the queue
//! loses its expiry). The expiry rides on the write that already happens:
//! no extra request, no extra write unit on DynamoDB (its TTL attribute,
//! `expires_at`, deletes the record and its list entry); the local server's
//! hourly purge (`DocStore::purge_expired`) deletes them on SQLite.
//!
//! What a purged record can no longer do, and why that is safe:
//! - a job (a redelivered queue message, a late timer) for a purged run finds
//!   no run and does nothing (`RunOutcome::Unknown`): a run is never
//!   re-created from a job, only planned by its visit's stage change, whose
//!   outbox record is gone once it planned;
//! - a redelivered event is recognised as a duplicate by the item's trigger
//!   evaluation records. Redelivery ends long before the shortest retention
//!   ([`MIN_RETENTION_DAYS`] = 30 days): SQS keeps a message at most 14 days,
//!   a DynamoDB stream record 24 hours, and the local queues hand a job or
//!   event back only until it is acked (right after its run commits);
//! - reports read their aggregates (`Kind::Report`, never stamped), not the
//!   run log, so their counts outlive the runs they count;
//! - a robot reading an earlier robot's outputs (`{{robot.…}}`) reads the
//!   done runs of the current visit; a visit that lasts longer than the
//!   retention loses outputs older than it (the default, 365 days, is the
//!   longest delay the catalogue's robots usually take).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;
use serde::Deserialize;

use crate::hooked_store::TransactHook;
use crate::model::{OutboundStatus, RunStatus};
use crate::ports::{Clock, DocStore, Kind, StoreError, Write};

/// Days a finished run or a delivered message is kept by default.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;

/// The shortest retention accepted: longer than every redelivery window
/// (SQS message retention ≤ 14 days, DynamoDB stream 24 hours).
pub const MIN_RETENTION_DAYS: i64 = 30;

/// The longest retention accepted (ten years); "keep forever" is not offered.
pub const MAX_RETENTION_DAYS: i64 = 3_650;

/// How long finished records are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Finished run records (robot runs, trigger evaluations).
    pub runs: Duration,
    /// Outbound messages `sent`, `failed`, `bounced` or `complained`.
    pub messages: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            runs: Duration::days(DEFAULT_RETENTION_DAYS),
            messages: Duration::days(DEFAULT_RETENTION_DAYS),
        }
    }
}

/// A retention setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{setting}: {days} days is out of range ({MIN_RETENTION_DAYS}..={MAX_RETENTION_DAYS}; \
     the minimum outlasts every redelivery window)"
)]
pub struct RetentionError {
    /// The setting's name (a CLI flag or environment variable).
    pub setting: String,
    /// The value given.
    pub days: i64,
}

impl Retention {
    /// Runs kept `runs` days, messages `messages` days; each must be within
    /// [`MIN_RETENTION_DAYS`]..=[`MAX_RETENTION_DAYS`].
    pub fn days(runs: i64, messages: i64) -> Result<Self, RetentionError> {
        Ok(Retention {
            runs: Duration::days(checked_days("runs", runs)?),
            messages: Duration::days(checked_days("messages", messages)?),
        })
    }

    /// How long a document written by `write` is kept from now, if it
    /// expires at all.
    fn keep(&self, write: &Write) -> Option<Duration> {
        let Write::Put { doc, .. } = write else {
            return None;
        };
        let status = doc.body.get("status")?;
        match doc.key.kind {
            Kind::Run => RunStatus::deserialize(status)
                .ok()
                .filter(|s| s.is_final())
                .map(|_| self.runs),
            Kind::Outbound => OutboundStatus::deserialize(status)
                .ok()
                .filter(|s| {
                    matches!(
                        s,
                        OutboundStatus::Sent
                            | OutboundStatus::Failed
                            | OutboundStatus::Bounced
                            | OutboundStatus::Complained
                    )
                })
                .map(|_| self.messages),
            _ => None,
        }
    }
}

/// `days` checked against the accepted range, for the setting `setting`.
pub fn checked_days(setting: &str, days: i64) -> Result<i64, RetentionError> {
    if (MIN_RETENTION_DAYS..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(RetentionError {
            setting: setting.to_string(),
            days,
        })
    }
}

/// Stamps the expiry of finished runs and messages on the writes that make
/// them final (see the module docs).
pub struct RetentionStamp {
    retention: Retention,
    clock: Arc<dyn Clock>,
}

impl RetentionStamp {
    pub fn new(retention: Retention, clock: Arc<dyn Clock>) -> Self {
        RetentionStamp { retention, clock }
    }

    /// Set (or clear) `expires_at` on the run and message writes of a
    /// transaction; other writes are left as they are.
    pub fn stamp(&self, writes: &mut [Write]) {
        let mut now = None;
        for w in writes.iter_mut() {
            let kind = w.key().kind;
            if !matches!(kind, Kind::Run | Kind::Outbound) {
                continue;
            }
            let keep = self.retention.keep(w);
            if let Write::Put { doc, .. } = w {
                doc.expires_at = keep.map(|d| {
                    let now = *now.get_or_insert_with(|| self.clock.now());
                    (now + d).timestamp()
                });
            }
        }
    }
}

#[async_trait]
impl TransactHook for RetentionStamp {
    async fn transact(
        &self,
        inner: &dyn DocStore,
        mut writes: Vec<Write>,
    ) -> Result<(), StoreError> {
        self.stamp(&mut writes);
        inner.transact(writes).await
    }
    fn groups(&self) -> bool {
        true
    }
    async fn transact_group(
        &self,
        inner: &dyn DocStore,
        mut writes: Vec<Write>,
    ) -> Result<(), StoreError> {
        self.stamp(&mut writes);
        inner.transact_group(writes).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::memory::ManualClock;
    use crate::ports::{Cond, Doc, DocKey};

    fn put(kind: Kind, status: &str) -> Write {
        Write::Put {
            doc: Doc {
                key: DocKey::new("t", kind, "x"),
                version: 1,
                parent: None,
                expires_at: Some(1),
                body: json!({ "status": status }),
            },
            cond: Cond::Any,
        }
    }

    fn expiry(w: &Write) -> Option<i64> {
        match w {
            Write::Put { doc, .. } => doc.expires_at,
            _ => None,
        }
    }

    #[test]
    fn only_finished_runs_and_delivered_messages_expire() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let stamp = RetentionStamp::new(
            Retention::days(30, 60).unwrap(),
            Arc::new(ManualClock::new(now)),
        );
        let mut writes = vec![
            put(Kind::Run, "done"),
            put(Kind::Run, "cancelled"),
            put(Kind::Run, "pending"),
            put(Kind::Run, "waiting"),
            put(Kind::Outbound, "sent"),
            put(Kind::Outbound, "failed"),
            put(Kind::Outbound, "queued"),
            put(Kind::Outbound, "sending"),
            put(Kind::Outbound, "bounced"),
            put(Kind::Outbound, "complained"),
            put(Kind::Item, "done"),
        ];
        stamp.stamp(&mut writes);
        let day = 86_400;
        let t = now.timestamp();
        let got: Vec<_> = writes.iter().map(expiry).collect();
        assert_eq!(
            got,
            vec![
                Some(t + 30 * day),
                Some(t + 30 * day),
                None,
                None,
                Some(t + 60 * day),
                Some(t + 60 * day),
                None,
                None,
                // a bounce or a complaint keeps the sent message's expiry
                Some(t + 60 * day),
                Some(t + 60 * day),
                // not a run or a message: left as written
                Some(1),
            ]
        );
    }

    #[test]
    fn a_retention_shorter_than_the_redelivery_windows_is_refused() {
        assert!(Retention::days(29, 365).is_err());
        assert!(Retention::days(365, 3_651).is_err());
        let e = checked_days("CRM_RUN_RETENTION_DAYS", 7).unwrap_err();
        assert!(e.to_string().contains("CRM_RUN_RETENTION_DAYS"), "{e}");
        assert_eq!(Retention::days(30, 3_650).unwrap().runs, Duration::days(30));
    }
}
