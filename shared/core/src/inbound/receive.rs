//! One incoming email, from whichever home received it (the local SMTP
//! listener, SES receiving on AWS): parse it, match it, raise
//! `incoming_email` once.
//!
//! Matching, first hit wins:
//! 1. a delivery status notification about one of our messages marks it
//!    `bounced` ([`super::feedback`]);
//! 2. a reply: an id of its `In-Reply-To` / `References` is one of our
//!    `Message-ID`s (`<out.{outbound id}.{tag}@…>`); the tag (the tenant's
//!    inbound address id) names the tenant (one read, cached), then the
//!    outbound record its item (one read). An untagged id (an email sent
//!    before incoming email was on) is looked up in the tenants the mail
//!    was addressed to;
//! 3. the sender: the `From` address is a client email (the client index)
//!    of a tenant the mail was addressed to (an envelope recipient
//!    `in_…@{inbound domain}`): the event names the client, and every item
//!    of that client is evaluated, as for `POST /v1/events`.
//!
//! Anything else is logged and dropped: an unknown or forged address or
//! tag, a stranger's mail, a message too large or unparsable. Only a store
//! or queue failure is an error (the caller tries again later). The event's
//! idempotency key is the mail's `Message-ID` (or the hash of its bytes),
//! so a mail delivered twice raises one event.

use serde::Serialize;
use serde_json::json;

use crate::api::EventBody;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::{Channel, ClientRef, Outbound};
use crate::outbound::message_id::reference_of;
use crate::ports::Kind;

use super::address::address_id_of;
use super::mail::{IncomingMail, parse};

/// What became of an incoming email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Received {
    /// A reply to robot email `outbound_id`: `incoming_email` raised for
    /// its item.
    Reply {
        tenant: String,
        item_id: String,
        outbound_id: String,
        event_id: String,
    },
    /// From a client of the tenant: `incoming_email` raised for the
    /// client's items.
    FromClient { tenant: String, event_id: String },
    /// A bounce report (or an SES notification) about outbound message
    /// `outbound_id`: its status is now `status` (`changed`: by this one).
    Feedback {
        tenant: String,
        outbound_id: String,
        status: String,
        changed: bool,
    },
    /// Nothing matched; the mail is dropped.
    Unmatched { reason: String },
}

impl Received {
    fn unmatched(reason: impl Into<String>) -> Self {
        Received::Unmatched {
            reason: reason.into(),
        }
    }
}

impl Engine {
    /// Take one incoming email: `raw` as received, `recipients` its envelope
    /// recipients (SMTP `RCPT TO`, SES `receipt.recipients`).
    pub async fn receive_email(&self, raw: &[u8], recipients: &[String]) -> Result<Received> {
        let mail = match parse(raw) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, bytes = raw.len(), "incoming email dropped");
                return Ok(Received::unmatched(e.to_string()));
            }
        };
        let got = self.match_mail(&mail, recipients).await?;
        match &got {
            Received::Unmatched { reason } => {
                tracing::info!(from = %mail.from, message_id = %mail.message_id, %reason, "incoming email matched nothing; dropped");
            }
            other => {
                tracing::info!(from = %mail.from, message_id = %mail.message_id, outcome = ?other, "incoming email taken");
            }
        }
        Ok(got)
    }

    async fn match_mail(&self, mail: &IncomingMail, recipients: &[String]) -> Result<Received> {
        if let Some(report) = &mail.report {
            if !report.failed {
                return Ok(Received::unmatched(
                    "a delivery report that is not a failure",
                ));
            }
            return self
                .outbound_feedback(
                    &report.original_message_id,
                    None,
                    super::feedback::Feedback::Bounced,
                    &report.detail,
                )
                .await;
        }
        let tenants = self.recipient_tenants(recipients).await?;
        for r in &mail.references {
            let Some((tenant, m)) = self.replied_message(r, &tenants).await? else {
                continue;
            };
            let item_id = m.item_id.clone().expect("checked by replied_message");
            match self
                .submit_event(&tenant, event_body(mail, Some(&item_id), Some(&m.id)))
                .await
            {
                Ok(event_id) => {
                    return Ok(Received::Reply {
                        tenant,
                        item_id,
                        outbound_id: m.id,
                        event_id,
                    });
                }
                // The item was deleted since: try the sender.
                Err(EngineError::Unprocessable { .. }) => break,
                Err(e) => return Err(e),
            }
        }
        if tenants.is_empty() {
            return Ok(Received::unmatched(
                "neither a reply to our emails nor addressed to a tenant's inbound address",
            ));
        }
        if mail.from.is_empty() {
            return Ok(Received::unmatched("no sender address"));
        }
        for tenant in tenants {
            let key = format!("email:{}", mail.from);
            let known = self
                .ports
                .store
                .list_page(&tenant, Kind::ClientIndex, &key, None, 1)
                .await?;
            if known.is_empty() {
                continue;
            }
            match self
                .submit_event(&tenant, event_body(mail, None, None))
                .await
            {
                Ok(event_id) => return Ok(Received::FromClient { tenant, event_id }),
                // Not an address the API takes (no event is raised).
                Err(EngineError::Unprocessable { .. } | EngineError::BadRequest { .. }) => {
                    return Ok(Received::unmatched("the sender address is not usable"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Received::unmatched(
            "the sender is not a client of the addressed tenant",
        ))
    }

    /// The tenants whose inbound addresses are among `recipients` (each
    /// once, in order; unknown and foreign addresses left out).
    async fn recipient_tenants(&self, recipients: &[String]) -> Result<Vec<String>> {
        let mut tenants = Vec::new();
        for r in recipients.iter().take(super::MAX_RECIPIENTS) {
            if !self.is_inbound_address(r) {
                continue;
            }
            let Some(id) = address_id_of(r) else {
                continue;
            };
            if let Some(t) = self.inbound_owner(&id).await?
                && !tenants.contains(&t)
            {
                tenants.push(t);
            }
        }
        Ok(tenants)
    }

    /// The robot email to a client that `reference` names, with its tenant.
    async fn replied_message(
        &self,
        reference: &str,
        tenants: &[String],
    ) -> Result<Option<(String, Outbound)>> {
        let Some((id, tag)) = reference_of(reference) else {
            return Ok(None);
        };
        let candidates = match tag {
            Some(tag) => self.inbound_owner(tag).await?.into_iter().collect(),
            None => tenants.to_vec(),
        };
        for tenant in candidates {
            if let Some((m, _)) = self.load::<Outbound>(&tenant, id).await?
                && m.channel == Channel::Email
                && m.item_id.is_some()
            {
                return Ok(Some((tenant, m)));
            }
        }
        Ok(None)
    }
}

/// The `incoming_email` event of `mail`: for `item_id`, else for the
/// client with the sender's address.
fn event_body(mail: &IncomingMail, item_id: Option<&str>, outbound_id: Option<&str>) -> EventBody {
    let mut data = json!({
        "from": mail.from,
        "subject": mail.subject,
        "text": mail.snippet,
        "message_id": mail.message_id,
    });
    if let Some(id) = outbound_id {
        data["outbound_id"] = json!(id);
    }
    EventBody {
        event_type: "incoming_email".to_string(),
        item_id: item_id.map(str::to_string),
        client: item_id.is_none().then(|| ClientRef {
            phone: None,
            email: Some(mail.from.clone()),
        }),
        data: Some(data),
        idempotency_key: Some(format!("incoming_email|{}", mail.message_id)),
        occurred_at: None,
    }
}
