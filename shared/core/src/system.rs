//! Real-world adapters of the small ports, for the shells (local server and
//! Lambdas) to inject. The engine itself never reads the system clock or
//! makes random ids: it only sees the [`Clock`] and [`IdGen`] it is given.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::Outbound;
use crate::ports::{Clock, Delivered, Delivery, IdGen, PortError};

/// The system clock (`chrono::Utc::now`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// `{prefix}-{UUIDv7 as 32 hex digits}` (RFC 9562): a millisecond timestamp
/// followed by random bits, so ids are unique across processes and restarts
/// and, within one process, sort in the order they were made (the `uuid`
/// crate keeps a counter for ids of the same millisecond). Stores keep
/// documents made together close together: the embedded store's indexes
/// grow at their end instead of at random places, and a backlog of delayed
/// robots, which runs in creation order, reads and writes neighbouring pages.
/// Clients cannot rely on the order; it is a storage property only.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimeOrderedIds;

impl IdGen for TimeOrderedIds {
    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
    }
}

/// Outbound delivery that writes one log line per message and never fails:
/// what a channel without a configured provider uses (email without SMTP/SES,
/// SMS without a gateway/SNS, and always robocalls and messenger messages).
/// The engine keeps every outbound message as a document (the outbox the
/// API lists) and marks it sent once the adapter returns.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogDelivery;

#[async_trait]
impl Delivery for LogDelivery {
    async fn deliver(&self, message: &Outbound) -> Result<Delivered, PortError> {
        tracing::info!(
            id = %message.id,
            tenant = %message.tenant,
            item_id = message.item_id.as_deref().unwrap_or("-"),
            channel = message.channel.as_str(),
            to = %message.to,
            "outbound message delivered to the log adapter"
        );
        Ok(Delivered::default())
    }

    async fn deliver_with_files(
        &self,
        message: &Outbound,
        files: &[crate::outbound::files::OutboundFile],
    ) -> Result<Delivered, PortError> {
        for f in files {
            tracing::info!(id = %message.id, file = %f.file_name, bytes = f.bytes.len(), "attached");
        }
        self.deliver(message).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_have_the_prefix_differ_and_sort_in_creation_order() {
        let made: Vec<String> = (0..10_000)
            .map(|_| TimeOrderedIds.next_id("item"))
            .collect();
        let ids: HashSet<&String> = made.iter().collect();
        assert_eq!(ids.len(), made.len());
        assert!(made.iter().all(|i| i.starts_with("item-") && i.len() == 37));
        assert!(
            made.windows(2).all(|w| w[0] < w[1]),
            "not in creation order"
        );
    }
}
