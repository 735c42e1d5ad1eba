//! Inbound-webhook credentials: the `{user_id}/{secret}` pair of a Bitrix
//! URL `/rest/{user_id}/{secret}/{method}`.
//!
//! A credential belongs to one tenant and acts as one of its users. Its
//! public id is a number, unique within the tenant (what the URL's
//! `{user_id}` carries, since Bitrix user ids are numeric). The secret is
//! shown once, when it is made; only its SHA-256 is stored, as for API keys
//! ([`crate::api_keys`]). Two documents per credential, written together:
//!
//! - `(tenant, rest_webhook, <id zero-padded>)`, listed under `all`: what
//!   `GET /v1/rest-webhooks` pages (the hash included, never shown);
//! - `(_system, rest_webhook, <hash hex>)`, unlisted: the lookup of a
//!   presented secret, one point read, whatever the store. Revoking deletes
//!   it, so a revoked secret finds nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api_keys::{KeyHash, validate_label};
use crate::engine::{Engine, Page, PageRequest};
use crate::error::{EngineError, Result};
use crate::ports::{Cond, DocKey, Kind, SYSTEM_TENANT, StoreError, Write};
use crate::store::{decode, doc, put};

/// The parent a tenant's credentials are listed under.
const LISTED: &str = "all";
/// The counter of a tenant's credential numbers.
const COUNTER: &str = "rest_webhook";

/// One credential, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestWebhook {
    /// The number in the URL (`/rest/<id>/…`), from 1, per tenant.
    pub id: u64,
    /// Our user the calls act as.
    pub user_id: String,
    /// What the operator called it.
    pub label: String,
    /// SHA-256 of the secret, lower-case hex (never shown).
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked credential authenticates no one.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl RestWebhook {
    /// The document id: the number, zero-padded so that ids sort as numbers.
    fn doc_id(id: u64) -> String {
        format!("{id:020}")
    }

    /// The URL path prefix integrators put before a method name.
    pub fn url(&self, secret: &str) -> String {
        format!("/rest/{}/{secret}/", self.id)
    }
}

/// Who a presented secret belongs to (the `_system` lookup document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestCaller {
    /// The tenant the calls work in.
    pub tenant: String,
    /// The credential's number (must be the URL's `{user_id}`).
    pub webhook_id: u64,
    /// Our user the calls act as.
    pub user_id: String,
}

/// A credential just made: the record and the secret to show once.
pub struct NewRestWebhook {
    pub record: RestWebhook,
    /// `b24_` + 128 random bits in hex (URL-safe).
    pub secret: String,
}

impl std::fmt::Debug for NewRestWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRestWebhook")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// A fresh secret: `b24_` + 128 random bits in hex. Bitrix secrets are
/// short lower-case tokens; 128 bits leave nothing to guess.
fn generate_secret() -> String {
    format!("b24_{:032x}", rand::random::<u128>())
}

fn lookup_key(hash: &KeyHash) -> DocKey {
    DocKey::new(SYSTEM_TENANT, Kind::RestWebhook, hash.to_hex())
}

impl Engine {
    /// Make a credential acting as `user_id` (a user of the directory).
    /// Errors: 422 for an unknown user or a bad label.
    pub async fn create_rest_webhook(
        &self,
        tenant: &str,
        user_id: &str,
        label: &str,
    ) -> Result<NewRestWebhook> {
        let mut errors = Vec::new();
        if let Err(m) = validate_label(label) {
            errors.push(crate::error::FieldError {
                field: "label".into(),
                message: m,
            });
        }
        if user_id.trim().is_empty() {
            errors.push(crate::error::FieldError {
                field: "user_id".into(),
                message: "must not be empty".into(),
            });
        } else {
            let refs = crate::check::Refs {
                users: vec![("user_id".into(), user_id.to_string())],
                ..Default::default()
            };
            errors.extend(self.check_refs(tenant, &refs).await?);
        }
        crate::engine::unprocessable(errors)?;
        let secret = generate_secret();
        let hash = KeyHash::of(&secret);
        for _ in 0..=self.config.max_retries {
            let counter = self
                .load_kind::<u64>(tenant, Kind::Counter, COUNTER)
                .await?;
            let (n, cv) = counter.unwrap_or((0, 0));
            let record = RestWebhook {
                id: n + 1,
                user_id: user_id.to_string(),
                label: label.to_string(),
                secret_hash: hash.to_hex(),
                created_at: self.now(),
                revoked_at: None,
            };
            let caller = RestCaller {
                tenant: tenant.to_string(),
                webhook_id: record.id,
                user_id: record.user_id.clone(),
            };
            let writes = vec![
                put(
                    doc(tenant, Kind::Counter, COUNTER, cv + 1, None, &(n + 1)),
                    crate::store::cond_for(cv),
                ),
                put(
                    doc(
                        tenant,
                        Kind::RestWebhook,
                        &RestWebhook::doc_id(record.id),
                        1,
                        Some(LISTED),
                        &record,
                    ),
                    Cond::Absent,
                ),
                put(
                    doc(
                        SYSTEM_TENANT,
                        Kind::RestWebhook,
                        &hash.to_hex(),
                        1,
                        None,
                        &caller,
                    ),
                    Cond::Absent,
                ),
            ];
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(NewRestWebhook { record, secret }),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(
            "too many credentials made at once; retry".into(),
        ))
    }

    /// One page of a tenant's credentials, oldest first (revoked ones too).
    pub async fn rest_webhooks_page(
        &self,
        tenant: &str,
        req: &PageRequest,
    ) -> Result<Page<RestWebhook>> {
        let page = self
            .page_docs(
                tenant,
                Kind::RestWebhook,
                &[LISTED.to_string()],
                req,
                |_| Ok(true),
            )
            .await?;
        let items = page.items.iter().map(decode).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Revoke credential `id` (its number); revoking twice keeps the first
    /// time. Unknown id (or another tenant's) → 404.
    pub async fn revoke_rest_webhook(&self, tenant: &str, id: &str) -> Result<RestWebhook> {
        let n: u64 = id
            .parse()
            .map_err(|_| EngineError::not_found("rest webhook", id))?;
        for _ in 0..=self.config.max_retries {
            let key = DocKey::new(tenant, Kind::RestWebhook, RestWebhook::doc_id(n));
            let Some(d) = self.ports.store.get(&key).await? else {
                return Err(EngineError::not_found("rest webhook", id));
            };
            let mut record: RestWebhook = decode(&d)?;
            if record.revoked_at.is_some() {
                return Ok(record);
            }
            record.revoked_at = Some(self.now());
            let writes = vec![
                put(
                    doc(
                        tenant,
                        Kind::RestWebhook,
                        &key.id,
                        d.version + 1,
                        Some(LISTED),
                        &record,
                    ),
                    Cond::Version(d.version),
                ),
                Write::Delete {
                    key: DocKey::new(SYSTEM_TENANT, Kind::RestWebhook, &record.secret_hash),
                    parent: None,
                    cond: Cond::Any,
                },
            ];
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(record),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "rest webhook '{id}' changed concurrently; retry"
        )))
    }

    /// Who the URL's `{user_id}/{secret}` pair is: `None` for a wrong,
    /// revoked or unknown secret, or a number that is not the secret's own
    /// (the caller cannot tell which). One point read.
    pub async fn authenticate_rest_webhook(
        &self,
        user_id: &str,
        secret: &str,
    ) -> Result<Option<RestCaller>> {
        let Ok(n) = user_id.parse::<u64>() else {
            return Ok(None);
        };
        if secret.is_empty() {
            return Ok(None);
        }
        let key = lookup_key(&KeyHash::of(secret));
        let Some(d) = self.ports.store.get(&key).await? else {
            return Ok(None);
        };
        let caller: RestCaller = decode(&d)?;
        Ok((caller.webhook_id == n).then_some(caller))
    }
}
