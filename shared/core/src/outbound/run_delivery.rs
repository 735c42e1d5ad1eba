//! What became of a robot's message, on the run that sent it (issue #15:
//! "bounces and failures recorded on the run"). The run log
//! (`GET /v1/items/{id}/runs`) answers "why did (or didn't) my robot do
//! its job": a run `done` whose email bounced did not reach the client.
//!
//! The message names its run ([`Outbound::run_id`], written with the
//! message in the run's own transaction: no extra write). When the message
//! fails for good (the dead letter), bounces or is marked as spam, the
//! run's [`RunRecord::delivery`] says so, in the same transaction as the
//! message's new state, guarded by both versions: a repeated notification
//! finds the message marked already and writes nothing. Retrying a failed
//! message (`POST /v1/outbox/{id}/retry`) clears it. Nothing is written on
//! the run for a message that is simply sent: the hot path (robot run,
//! delivery) writes what it wrote before.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::Result;
use crate::model::{Channel, Outbound, OutboundStatus, RunKind, RunRecord};
use crate::ports::{Cond, Write};
use crate::store::{put, record_doc};

/// The message of a robot run that did not reach its recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunDelivery {
    /// The message (`GET /v1/outbox`; a failed one can be queued again with
    /// `POST /v1/outbox/{id}/retry`).
    pub outbound_id: String,
    pub channel: Channel,
    /// The recipient (email address or phone).
    pub to: String,
    /// `failed` (refused by the provider, or no attempts left), `bounced`
    /// (the recipient's server refused it for good) or `complained` (the
    /// recipient marked it as spam).
    pub status: OutboundStatus,
    /// Why, in the provider's or the bounce report's words.
    pub reason: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

impl RunDelivery {
    /// The delivery state of `m` as it is now, for `reason`, recorded at
    /// `at`.
    pub fn of(m: &Outbound, reason: &str, at: DateTime<Utc>) -> Self {
        RunDelivery {
            outbound_id: m.id.clone(),
            channel: m.channel,
            to: m.to.clone(),
            status: m.status,
            reason: reason.to_string(),
            at,
        }
    }
}

impl Engine {
    /// The write that puts `delivery` on the run that sent `m` (`None`:
    /// takes it off), guarded by the run's version: to go in the same
    /// transaction as `m`'s new state. `None` when there is nothing to
    /// write: `m` names no run (sent before messages named their runs, or
    /// not by a robot), the run is gone (retention, a deleted item), or
    /// there is nothing to take off.
    pub(crate) async fn run_delivery_write(
        &self,
        m: &Outbound,
        delivery: Option<RunDelivery>,
    ) -> Result<Option<Write>> {
        let Some(run_id) = m.run_id.as_deref() else {
            return Ok(None);
        };
        let Some((mut run, v)) = self.load::<RunRecord>(&m.tenant, run_id).await? else {
            return Ok(None);
        };
        if run.kind != RunKind::Robot
            || m.item_id.as_deref() != Some(run.item_id.as_str())
            || (delivery.is_none() && run.delivery.is_none())
        {
            return Ok(None);
        }
        run.delivery = delivery;
        run.version = v + 1;
        Ok(Some(put(
            record_doc(&m.tenant, &run, run.version),
            Cond::Version(v),
        )))
    }
}
