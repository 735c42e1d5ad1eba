//! What the tenant sees of incoming email (`GET /v1/inbound-email`):
//! whether it is on for the deployment and, when it is, the tenant's
//! inbound address — where robots' emails to clients send replies
//! (`Reply-To`) and where the tenant forwards its clients' mail.

use serde::Serialize;

use crate::engine::Engine;
use crate::error::Result;

/// Incoming email as the tenant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InboundEmail {
    /// Incoming email is on for this deployment (an inbound domain is
    /// configured: `CRM_INBOUND_DOMAIN`, `--inbound-domain`, the
    /// template's `InboundEmailDomain`).
    pub enabled: bool,
    /// The tenant's inbound address, `in_{32 hex}@{domain}`; `null` when
    /// incoming email is off. Made on first use (this read or the first
    /// robot email to a client) and never rotated.
    pub address: Option<String>,
    /// The inbound domain; `null` when incoming email is off.
    pub domain: Option<String>,
}

impl Engine {
    /// The tenant's view of incoming email (its address made when missing).
    pub async fn inbound_email(&self, tenant: &str) -> Result<InboundEmail> {
        let address = self.inbound_address(tenant).await?;
        Ok(InboundEmail {
            enabled: address.is_some(),
            domain: address
                .as_ref()
                .and(self.inbound_domain().map(str::to_string)),
            address,
        })
    }
}
