//! Bounces and complaints about emails we sent: SES's `Bounce` /
//! `Complaint` notifications on AWS, delivery status notifications at the
//! local SMTP listener. The message is found by our `Message-ID` (its tag
//! names the tenant, one read; then the outbound record, one read) and
//! marked `bounced` or `complained`, with the reason as `last_error`, an
//! entry on the item's timeline (`email_bounced` / `email_complained`) and
//! the run that sent it showing it as its `delivery`
//! ([`crate::outbound::run_delivery`]), all in one transaction.
//! A message already marked stays as it is (a repeated notification
//! changes nothing). When the notification carries the provider's id of
//! the message (SES `mail.messageId`), it must be the one the record holds.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::engine::Engine;
use crate::error::Result;
use crate::model::{Outbound, OutboundStatus, TimelineEntry};
use crate::outbound::message_id::reference_of;
use crate::outbound::run_delivery::RunDelivery;
use crate::ports::{Cond, StoreError};
use crate::store::{follow_up_timeline_id, put, record_doc, timeline_write};

use super::receive::Received;

/// What the recipient's side said about a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Refused for good (a permanent bounce).
    Bounced,
    /// Marked as spam by the recipient.
    Complained,
}

impl Feedback {
    fn status(self) -> OutboundStatus {
        match self {
            Feedback::Bounced => OutboundStatus::Bounced,
            Feedback::Complained => OutboundStatus::Complained,
        }
    }
}

impl Engine {
    /// Mark the message whose `Message-ID` is `message_id` as `feedback`
    /// says (`detail`: the reason, kept as its `last_error`).
    pub async fn outbound_feedback(
        &self,
        message_id: &str,
        provider_message_id: Option<&str>,
        feedback: Feedback,
        detail: &str,
    ) -> Result<Received> {
        let unmatched = |reason: &str| {
            Ok(Received::Unmatched {
                reason: reason.to_string(),
            })
        };
        let Some((id, Some(tag))) = reference_of(message_id) else {
            return unmatched("not one of our tagged Message-IDs");
        };
        let Some(tenant) = self.inbound_owner(tag).await? else {
            return unmatched("unknown tenant tag");
        };
        for _ in 0..=self.config.max_retries {
            let Some((mut m, v)) = self.load::<Outbound>(&tenant, id).await? else {
                return unmatched("unknown message");
            };
            if let (Some(said), Some(ours)) =
                (provider_message_id, m.provider_message_id.as_deref())
                && said != ours
            {
                return unmatched("the provider's message id differs from the record's");
            }
            if matches!(
                m.status,
                OutboundStatus::Bounced | OutboundStatus::Complained
            ) {
                return Ok(Received::Feedback {
                    tenant,
                    outbound_id: m.id,
                    status: m.status.as_str().to_string(),
                    changed: false,
                });
            }
            let now = self.now();
            m.status = feedback.status();
            m.next_attempt_at = None;
            m.last_error = Some(match feedback {
                Feedback::Bounced => format!("bounced: {detail}"),
                Feedback::Complained => format!("the recipient marked it as spam: {detail}"),
            });
            let mut writes = vec![put(record_doc(&tenant, &m, v + 1), Cond::Version(v))];
            writes.extend(feedback_entry(&m, v + 1, now).map(|e| timeline_write(&tenant, &e)));
            let on_run = RunDelivery::of(&m, detail, now);
            writes.extend(self.run_delivery_write(&m, Some(on_run)).await?);
            match self.ports.store.transact(writes).await {
                Ok(()) => {
                    tracing::warn!(%tenant, id = %m.id, status = m.status.as_str(), %detail, "email feedback recorded");
                    return Ok(Received::Feedback {
                        tenant,
                        outbound_id: m.id,
                        status: m.status.as_str().to_string(),
                        changed: true,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::error::EngineError::Conflict(format!(
            "message '{id}' kept changing while its {feedback:?} was recorded"
        )))
    }
}

/// The item's timeline entry of a bounced or complained-about email.
fn feedback_entry(m: &Outbound, version: u64, at: DateTime<Utc>) -> Option<TimelineEntry> {
    let item_id = m.item_id.clone()?;
    let (kind, what) = match m.status {
        OutboundStatus::Complained => ("email_complained", "was marked as spam by"),
        _ => ("email_bounced", "bounced at"),
    };
    Some(TimelineEntry {
        id: follow_up_timeline_id(at, version, &format!("{}-{kind}", m.id)),
        item_id,
        at,
        kind: kind.into(),
        author_id: None,
        text: format!(
            "Email {what} {}: {}",
            m.to,
            m.last_error.as_deref().unwrap_or_default()
        ),
        data: json!({"outbound_id": m.id, "channel": m.channel.as_str()}),
    })
}
