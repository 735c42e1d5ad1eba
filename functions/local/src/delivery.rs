//! The default outbound delivery adapter: it logs the message.
//!
//! The engine already keeps every outbound email/SMS in its outbox (listed by
//! `GET /v1/outbox`) and marks it sent once this adapter returns; a real
//! provider would plug in behind the same port.

use async_trait::async_trait;
use crm_core::model::Outbound;
use crm_core::ports::{Delivery, PortError};

/// Delivery that writes one log line per message and never fails.
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
            "outbound message delivered to the log adapter"
        );
        Ok(())
    }
}
