//! A tenant's payment provider configuration: the webhook signing secret
//! and the endpoint id of its webhook URL.
//!
//! Stored in two documents, written together:
//! - `(tenant, payment_provider, <provider>)`: `{endpoint_id, webhook_secret,
//!   updated_at}`. The secret must be kept as it is (an HMAC key cannot be
//!   checked against a hash); it is never answered by the API.
//! - `(_system, payment_provider, <endpoint_id>)`: `{tenant, provider}`, the
//!   one point read that tells a webhook which tenant it is for.
//!
//! Replacing the secret keeps the endpoint id (the URL configured at the
//! provider stays valid); deleting the configuration deletes both, so the
//! URL answers 403 from then on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::ports::{Cond, DocKey, Kind, SYSTEM_TENANT, StoreError, Write};
use crate::store::{doc, put};

/// Longest webhook secret.
pub const MAX_SECRET_LEN: usize = 200;

/// The providers whose webhooks are understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    /// Stripe (`Stripe-Signature` HMAC-SHA256).
    Stripe,
}

impl PaymentProvider {
    /// The provider named in a path, if known.
    pub fn parse(name: &str) -> Option<Self> {
        (name == "stripe").then_some(PaymentProvider::Stripe)
    }
    /// The name in paths.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentProvider::Stripe => "stripe",
        }
    }
}

/// What is stored per tenant and provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredProvider {
    pub endpoint_id: String,
    pub webhook_secret: String,
    pub updated_at: DateTime<Utc>,
}

/// The `_system` lookup of an endpoint id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndpointOwner {
    pub tenant: String,
    pub provider: PaymentProvider,
}

/// A provider's configuration as the API shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProviderConfig {
    pub provider: PaymentProvider,
    /// The unguessable id in the webhook URL (`pe_` and 32 hex digits).
    pub endpoint_id: String,
    /// The path to give the provider: `/v1/webhooks/payments/<provider>/<endpoint_id>`.
    pub webhook_path: String,
    pub updated_at: DateTime<Utc>,
}

impl ProviderConfig {
    fn of(provider: PaymentProvider, s: &StoredProvider) -> Self {
        ProviderConfig {
            provider,
            endpoint_id: s.endpoint_id.clone(),
            webhook_path: format!(
                "/v1/webhooks/payments/{}/{}",
                provider.as_str(),
                s.endpoint_id
            ),
            updated_at: s.updated_at,
        }
    }
}

fn check_secret(secret: &str) -> Result<()> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(EngineError::invalid(
            "webhook_secret",
            format!("must be 1 to {MAX_SECRET_LEN} characters long"),
        ));
    }
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EngineError::invalid(
            "webhook_secret",
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

impl Engine {
    /// Set (or replace) a provider's webhook secret; the endpoint id is made
    /// the first time and kept after.
    pub async fn put_payment_provider(
        &self,
        tenant: &str,
        provider: PaymentProvider,
        secret: &str,
    ) -> Result<ProviderConfig> {
        check_secret(secret)?;
        for _ in 0..=self.config.max_retries {
            let old = self
                .load_kind::<StoredProvider>(tenant, Kind::PaymentProvider, provider.as_str())
                .await?;
            let (endpoint_id, version) = match &old {
                Some((s, v)) => (s.endpoint_id.clone(), *v),
                None => (format!("pe_{:032x}", rand::random::<u128>()), 0),
            };
            let stored = StoredProvider {
                endpoint_id: endpoint_id.clone(),
                webhook_secret: secret.to_string(),
                updated_at: self.now(),
            };
            let mut writes = vec![put(
                doc(
                    tenant,
                    Kind::PaymentProvider,
                    provider.as_str(),
                    version + 1,
                    None,
                    &stored,
                ),
                crate::store::cond_for(version),
            )];
            if old.is_none() {
                let owner = EndpointOwner {
                    tenant: tenant.to_string(),
                    provider,
                };
                writes.push(put(
                    doc(
                        SYSTEM_TENANT,
                        Kind::PaymentProvider,
                        &endpoint_id,
                        1,
                        None,
                        &owner,
                    ),
                    Cond::Absent,
                ));
            }
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(ProviderConfig::of(provider, &stored)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(
            "the provider changed concurrently; retry".into(),
        ))
    }

    /// A provider's configuration (404 when not configured).
    pub async fn get_payment_provider(
        &self,
        tenant: &str,
        provider: PaymentProvider,
    ) -> Result<ProviderConfig> {
        let (s, _) = self
            .load_kind::<StoredProvider>(tenant, Kind::PaymentProvider, provider.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found("payment provider", provider.as_str()))?;
        Ok(ProviderConfig::of(provider, &s))
    }

    /// Remove a provider's configuration: its webhook URL answers 403 after.
    pub async fn delete_payment_provider(
        &self,
        tenant: &str,
        provider: PaymentProvider,
    ) -> Result<()> {
        let (s, _) = self
            .load_kind::<StoredProvider>(tenant, Kind::PaymentProvider, provider.as_str())
            .await?
            .ok_or_else(|| EngineError::not_found("payment provider", provider.as_str()))?;
        self.ports
            .store
            .transact(vec![
                Write::Delete {
                    key: DocKey::new(tenant, Kind::PaymentProvider, provider.as_str()),
                    parent: None,
                    cond: Cond::Any,
                },
                Write::Delete {
                    key: DocKey::new(SYSTEM_TENANT, Kind::PaymentProvider, &s.endpoint_id),
                    parent: None,
                    cond: Cond::Any,
                },
            ])
            .await?;
        Ok(())
    }

    /// The tenant and secret behind an endpoint id of `provider`; None for
    /// an unknown, deleted or malformed one.
    pub(crate) async fn payment_endpoint(
        &self,
        provider: PaymentProvider,
        endpoint_id: &str,
    ) -> Result<Option<(String, String)>> {
        let shaped = endpoint_id.len() == 35
            && endpoint_id.starts_with("pe_")
            && endpoint_id[3..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !shaped {
            return Ok(None);
        }
        let Some((owner, _)) = self
            .load_kind::<EndpointOwner>(SYSTEM_TENANT, Kind::PaymentProvider, endpoint_id)
            .await?
        else {
            return Ok(None);
        };
        if owner.provider != provider {
            return Ok(None);
        }
        let stored = self
            .load_kind::<StoredProvider>(&owner.tenant, Kind::PaymentProvider, provider.as_str())
            .await?;
        Ok(stored
            .filter(|(s, _)| s.endpoint_id == endpoint_id)
            .map(|(s, _)| (owner.tenant, s.webhook_secret)))
    }
}
