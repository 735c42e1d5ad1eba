//! One attempt of an outbound message and the commit of its outcome (see
//! the module docs of [`crate::outbound`]).

use chrono::{DateTime, Duration, Utc};

use super::job::job_for;
use super::retry::{MAX_ATTEMPTS, SENDING_LEASE_SECONDS, next_attempt_at};
use super::run_delivery::RunDelivery;
use crate::engine::Engine;
use crate::error::Result;
use crate::model::{Outbound, OutboundStatus, TimelineEntry};
use crate::ports::{Cond, DocKey, Kind, PortError, StoreError};
use crate::store::{follow_up_timeline_id, put, record_doc, timeline_write};

impl Engine {
    /// Make the due attempt of outbound message `id`, if there is one:
    /// called for its `Deliver` outbox record and for each retry job. Safe
    /// to call more than once (see [`crate::outbound`]).
    pub async fn deliver_outbound(&self, tenant: &str, id: &str) -> Result<()> {
        let Some((mut m, v)) = self.load::<Outbound>(tenant, id).await? else {
            return Ok(());
        };
        let now = self.now();
        match m.status {
            OutboundStatus::Sent
            | OutboundStatus::Failed
            | OutboundStatus::Bounced
            | OutboundStatus::Complained => return Ok(()),
            OutboundStatus::Queued | OutboundStatus::Sending => {
                if let Some(at) = m.next_attempt_at.filter(|at| *at > now) {
                    // Not due, or another attempt holds the lease: its timer.
                    self.ports.scheduler.schedule(job_for(&m, at)).await?;
                    return Ok(());
                }
            }
        }
        if m.status == OutboundStatus::Sending {
            tracing::warn!(%tenant, %id, attempt = m.attempts, "an attempt's lease ended without an outcome: trying again");
        }
        m.status = OutboundStatus::Sending;
        m.attempts += 1;
        m.next_attempt_at = Some(now + Duration::seconds(SENDING_LEASE_SECONDS));
        let claim = put(record_doc(tenant, &m, v + 1), Cond::Version(v));
        match self.ports.store.transact(vec![claim]).await {
            Ok(()) => {}
            // Another process took this attempt.
            Err(StoreError::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(%tenant, %id, channel = m.channel.as_str(), attempt = m.attempts, "delivering");
        // The files are read after the claim's commit, outside any
        // transaction (a missing document fails the message for good).
        let got = match self.outbound_files(&m).await {
            Ok(files) => self.ports.delivery.deliver_with_files(&m, &files).await,
            Err(e) => Err(e),
        };
        self.commit_delivery(m, v + 1, got, now).await
    }

    /// Commit what attempt `m.attempts` got, guarded by the `sending`
    /// record's version.
    async fn commit_delivery(
        &self,
        mut m: Outbound,
        v: u64,
        got: std::result::Result<crate::ports::Delivered, PortError>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let tenant = m.tenant.clone();
        let mut retry_at = None;
        match got {
            Ok(d) => {
                m.status = OutboundStatus::Sent;
                m.sent_at = Some(self.now());
                m.provider_message_id = d.provider_message_id;
                m.next_attempt_at = None;
            }
            Err(PortError::Unavailable(e)) => match next_attempt_at(m.attempts, now) {
                Some(at) => {
                    tracing::info!(%tenant, id = %m.id, attempt = m.attempts, error = %e, next = %at, "delivery failed for now");
                    m.status = OutboundStatus::Queued;
                    m.last_error = Some(e);
                    m.next_attempt_at = Some(at);
                    retry_at = Some(at);
                }
                None => {
                    m.last_error = Some(format!(
                        "{e} (attempt {n} of {n}; no retries left)",
                        n = MAX_ATTEMPTS
                    ));
                    m.status = OutboundStatus::Failed;
                    m.next_attempt_at = None;
                }
            },
            Err(PortError::Rejected(e)) => {
                m.last_error = Some(format!("{e} (attempt {}; not retried)", m.attempts));
                m.status = OutboundStatus::Failed;
                m.next_attempt_at = None;
            }
        }
        if m.status == OutboundStatus::Failed {
            tracing::warn!(%tenant, id = %m.id, error = m.last_error.as_deref().unwrap_or(""), "delivery failed");
            return self.commit_failed(&m, v).await;
        }
        let writes = vec![put(record_doc(&tenant, &m, v + 1), Cond::Version(v))];
        match self.ports.store.transact(writes).await {
            Ok(()) => {}
            // The message was re-queued or taken over meanwhile.
            Err(StoreError::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if let Some(at) = retry_at {
            self.ports.scheduler.schedule(job_for(&m, at)).await?;
        }
        Ok(())
    }
}

impl Engine {
    /// Commit message `m` (read at `v`) failed for good: the message, the
    /// item's `delivery_failed` entry and the run's `delivery`, in one
    /// transaction. When it conflicts while the message is still at `v`,
    /// the run changed meanwhile: tried again with the run read anew.
    async fn commit_failed(&self, m: &Outbound, v: u64) -> Result<()> {
        let tenant = &m.tenant;
        let at = self.now();
        let reason = m.last_error.as_deref().unwrap_or("unknown error");
        for _ in 0..=self.config.max_retries {
            let mut writes = vec![put(record_doc(tenant, m, v + 1), Cond::Version(v))];
            writes.extend(failure_entry(m, v + 1, at).map(|e| timeline_write(tenant, &e)));
            let on_run = RunDelivery::of(m, reason, at);
            writes.extend(self.run_delivery_write(m, Some(on_run)).await?);
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => {
                    let key = DocKey::new(tenant, Kind::Outbound, &m.id);
                    match self.ports.store.get(&key).await? {
                        Some(d) if d.version == v => continue,
                        // The message was re-queued or taken over meanwhile.
                        _ => return Ok(()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::error::EngineError::Conflict(format!(
            "the run of message '{}' kept changing while its failure was recorded",
            m.id
        )))
    }
}

/// The item's timeline entry of a failed message ("email to … failed: …").
fn failure_entry(m: &Outbound, version: u64, at: DateTime<Utc>) -> Option<TimelineEntry> {
    let item_id = m.item_id.clone()?;
    Some(TimelineEntry {
        id: follow_up_timeline_id(at, version, &format!("{}-failed", m.id)),
        item_id,
        at,
        kind: "delivery_failed".into(),
        author_id: None,
        text: format!(
            "{} to {} failed: {}",
            what(m),
            m.to,
            m.last_error.as_deref().unwrap_or("unknown error")
        ),
        data: serde_json::json!({
            "outbound_id": m.id,
            "channel": m.channel.as_str(),
            "attempts": m.attempts,
        }),
    })
}

fn what(m: &Outbound) -> &'static str {
    match m.channel {
        crate::model::Channel::Email => "Email",
        crate::model::Channel::Sms => "SMS",
        crate::model::Channel::Call => "Call",
        crate::model::Channel::Messenger => "Message",
    }
}
