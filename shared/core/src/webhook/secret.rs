//! The tenant's webhook signing secret: set by rotating it (the new secret is
//! shown once, in the rotation's answer, and never again); stored so that
//! calls can be signed (plain, not encrypted at rest), `Kind::WebhookSecret`
//! id [`SECRET_ID`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::Result;
use crate::ports::{Doc, DocKey, Kind, Write};

/// The one secret document's id.
pub const SECRET_ID: &str = "webhook";

/// The stored secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSecret {
    pub secret: String,
    pub rotated_at: DateTime<Utc>,
}

/// Whether a secret is set (what `GET /v1/webhook-secret` shows: never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SecretStatus {
    pub set: bool,
    pub rotated_at: Option<DateTime<Utc>>,
}

/// A fresh secret: `whsec_` + 256 random bits in hex.
pub fn generate_secret() -> String {
    format!(
        "whsec_{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

impl Engine {
    /// The tenant's secret, if one is set.
    pub(crate) async fn webhook_secret(&self, tenant: &str) -> Result<Option<WebhookSecret>> {
        Ok(self
            .load_kind::<WebhookSecret>(tenant, Kind::WebhookSecret, SECRET_ID)
            .await?
            .map(|(s, _)| s))
    }

    /// Whether the tenant has a secret, and since when.
    pub async fn webhook_secret_status(&self, tenant: &str) -> Result<SecretStatus> {
        let s = self.webhook_secret(tenant).await?;
        Ok(SecretStatus {
            set: s.is_some(),
            rotated_at: s.map(|s| s.rotated_at),
        })
    }

    /// Replace the tenant's secret with `secret` (calls made from now on are
    /// signed with it).
    pub async fn rotate_webhook_secret(
        &self,
        tenant: &str,
        secret: String,
    ) -> Result<SecretStatus> {
        let key = DocKey::new(tenant, Kind::WebhookSecret, SECRET_ID);
        let version = self.ports.store.get(&key).await?.map_or(0, |d| d.version);
        let now = self.now();
        let body = WebhookSecret {
            secret,
            rotated_at: now,
        };
        self.commit(
            vec![Write::Put {
                doc: Doc {
                    key,
                    version: version + 1,
                    parent: None,
                    expires_at: None,
                    body: serde_json::to_value(&body).expect("a secret serializes"),
                },
                cond: crate::store::cond_for(version),
            }],
            || "the webhook secret was rotated at the same time; try again".into(),
        )
        .await?;
        Ok(SecretStatus {
            set: true,
            rotated_at: Some(now),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_random_and_long() {
        let (a, b) = (super::generate_secret(), super::generate_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 6 + 64);
    }
}
