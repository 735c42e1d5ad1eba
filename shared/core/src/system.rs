//! Real-world adapters of the small ports, for the shells (local server and
//! Lambdas) to inject. The engine itself never reads the system clock or
//! makes random ids: it only sees the [`Clock`] and [`IdGen`] it is given.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::Outbound;
use crate::ports::{Clock, Delivery, IdGen, PortError};

/// The system clock (`chrono::Utc::now`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// `{prefix}-{16 random hex digits}`: 64 random bits per id, unique across
/// processes and restarts in practice.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGen for RandomIds {
    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}-{:016x}", rand::random::<u64>())
    }
}

/// Outbound email/SMS delivery that writes one log line per message and never
/// fails. The engine keeps every outbound message as a document (the outbox
/// the API lists) and marks it sent once the adapter returns; a real provider
/// plugs in behind the same port.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogDelivery;

#[async_trait]
impl Delivery for LogDelivery {
    async fn deliver(&self, message: &Outbound) -> Result<(), PortError> {
        tracing::info!(
            id = %message.id,
            tenant = %message.tenant,
            item_id = message.item_id.as_deref().unwrap_or("-"),
            channel = message.channel.as_str(),
            to = %message.to,
            "outbound message delivered to the log adapter"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn random_ids_have_the_prefix_and_differ() {
        let ids: HashSet<String> = (0..1000).map(|_| RandomIds.next_id("item")).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|i| i.starts_with("item-") && i.len() == 21));
    }
}
