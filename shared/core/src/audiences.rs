//! Advertising audiences: the [`Audiences`] port, the hashed identifiers ad
//! networks take, and the default adapter ([`StoreAudiences`]) that keeps
//! audiences and their members as documents of the [`DocStore`].
//!
//! The `add_to_audience` / `remove_from_audience` robots never send raw
//! contacts: the client's phone (E.164 digits) and email (trimmed, lower
//! case) are normalised and SHA-256-hashed (hex) in the run, and the change
//! goes to the port after the run commits, through the outbox (one outbox
//! record per run id: one change per visit).
//!
//! Stored shapes: an [`Audience`] per (network, audience id), listed under
//! [`AUDIENCES`], with its member count; an [`AudienceMember`] per item in
//! it, listed under `{network}:{audience_id}`. Adding an item that is a
//! member already, or removing one that is not, changes nothing, so a change
//! applied twice counts once.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Client;
use crate::ports::{Cond, Doc, DocKey, DocStore, Kind, PortError, StoreError, Write};

/// The ad networks an audience can belong to.
pub const NETWORKS: &[&str] = &["facebook", "google", "vk", "yandex", "tiktok"];
/// Longest audience id.
pub const MAX_AUDIENCE_ID_LEN: usize = 100;
/// Parent under which a tenant's audiences are listed.
pub const AUDIENCES: &str = "all";
/// How many times the store adapter retries a lost optimistic race.
const MAX_RETRIES: usize = 16;

/// Is `id` a valid audience id: 1 to [`MAX_AUDIENCE_ID_LEN`] of
/// `A-Z a-z 0-9 _ - .` (it is part of a URL path)?
pub fn valid_audience_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_AUDIENCE_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// SHA-256 of `s`, lower-case hex.
pub fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A phone as ad networks match it: the E.164 digits without `+`, spaces
/// or punctuation (`+7 (900) 000-00-01` → `79000000001`).
pub fn normalize_phone(p: &str) -> String {
    p.chars().filter(char::is_ascii_digit).collect()
}

/// An email as ad networks match it: trimmed, lower case.
pub fn normalize_email(e: &str) -> String {
    e.trim().to_lowercase()
}

/// The client's contacts, normalised and hashed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HashedContacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_sha256: Option<String>,
}

impl HashedContacts {
    /// The hashes of a client's phone and email (`None` when it has neither).
    pub fn of(client: &Client) -> Option<HashedContacts> {
        let phone = client
            .phone
            .as_deref()
            .map(normalize_phone)
            .filter(|p| !p.is_empty());
        let email = client
            .email
            .as_deref()
            .map(normalize_email)
            .filter(|e| !e.is_empty());
        (phone.is_some() || email.is_some()).then(|| HashedContacts {
            phone_sha256: phone.as_deref().map(sha256_hex),
            email_sha256: email.as_deref().map(sha256_hex),
        })
    }
}

/// Add to or remove from an audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceOp {
    Add,
    Remove,
}

/// One change of an audience, made by one robot run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceChange {
    pub tenant: String,
    /// The run that made it (the idempotency key).
    pub run_id: String,
    pub op: AudienceOp,
    pub network: String,
    pub audience_id: String,
    pub item_id: String,
    pub contacts: HashedContacts,
    pub at: DateTime<Utc>,
}

/// An audience of an ad network, as the default adapter keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Audience {
    pub network: String,
    pub audience_id: String,
    pub member_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One member of an audience: an item's client, by hashed contacts only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AudienceMember {
    pub network: String,
    pub audience_id: String,
    pub item_id: String,
    #[serde(flatten)]
    pub contacts: HashedContacts,
    pub added_at: DateTime<Utc>,
    /// The robot run that added it.
    pub run_id: String,
}

/// The document id (and member list parent) of an audience.
pub fn audience_key(network: &str, audience_id: &str) -> String {
    format!("{network}:{audience_id}")
}

/// The document id of an item's membership in an audience.
pub fn member_key(network: &str, audience_id: &str, item_id: &str) -> String {
    format!("{network}:{audience_id}:{item_id}")
}

/// Where audience changes go: an ad network's API, or the store.
/// Called at least once per change; implementations de-duplicate (an add
/// of a member is a no-op, so is a removal of a non-member).
#[async_trait]
pub trait Audiences: Send + Sync {
    async fn apply(&self, change: &AudienceChange) -> Result<(), PortError>;
}

/// The default adapter: audiences and members as documents of the store
/// (what `GET /v1/audiences` lists).
pub struct StoreAudiences {
    store: Arc<dyn DocStore>,
}

impl StoreAudiences {
    pub fn new(store: Arc<dyn DocStore>) -> Self {
        StoreAudiences { store }
    }

    async fn try_apply(&self, c: &AudienceChange) -> Result<(), StoreError> {
        let aud_id = audience_key(&c.network, &c.audience_id);
        let mkey = DocKey::new(
            &c.tenant,
            Kind::AudienceMember,
            member_key(&c.network, &c.audience_id, &c.item_id),
        );
        let akey = DocKey::new(&c.tenant, Kind::Audience, &aud_id);
        let got = self.store.get_many(&[mkey.clone(), akey.clone()]).await?;
        let (member, audience) = (&got[0], &got[1]);
        let stored: Option<(Audience, u64)> = match audience {
            Some(d) => Some((decode(d)?, d.version)),
            None => None,
        };
        let mut writes = Vec::new();
        let delta: i64 = match (c.op, member) {
            (AudienceOp::Add, Some(_)) | (AudienceOp::Remove, None) => return Ok(()),
            (AudienceOp::Add, None) => {
                let m = AudienceMember {
                    network: c.network.clone(),
                    audience_id: c.audience_id.clone(),
                    item_id: c.item_id.clone(),
                    contacts: c.contacts.clone(),
                    added_at: c.at,
                    run_id: c.run_id.clone(),
                };
                writes.push(Write::Put {
                    doc: doc(mkey, 1, Some(aud_id.clone()), &m)?,
                    cond: Cond::Absent,
                });
                1
            }
            (AudienceOp::Remove, Some(d)) => {
                writes.push(Write::Delete {
                    key: mkey,
                    parent: Some(aud_id.clone()),
                    cond: Cond::Version(d.version),
                });
                -1
            }
        };
        let (aud, version, cond) = match stored {
            Some((a, v)) => (a, v + 1, Cond::Version(v)),
            None => (
                Audience {
                    network: c.network.clone(),
                    audience_id: c.audience_id.clone(),
                    member_count: 0,
                    created_at: c.at,
                    updated_at: c.at,
                },
                1,
                Cond::Absent,
            ),
        };
        let aud = Audience {
            member_count: aud.member_count.saturating_add_signed(delta),
            updated_at: c.at.max(aud.updated_at),
            ..aud
        };
        writes.push(Write::Put {
            doc: doc(akey, version, Some(AUDIENCES.to_string()), &aud)?,
            cond,
        });
        self.store.transact(writes).await
    }
}

fn doc<T: Serialize>(
    key: DocKey,
    version: u64,
    parent: Option<String>,
    body: &T,
) -> Result<Doc, StoreError> {
    Ok(Doc {
        key,
        version,
        parent,
        expires_at: None,
        body: serde_json::to_value(body).map_err(|e| StoreError::Invalid(e.to_string()))?,
    })
}

fn decode<T: serde::de::DeserializeOwned>(d: &Doc) -> Result<T, StoreError> {
    T::deserialize(&d.body).map_err(|e| StoreError::Rejected(format!("{}: {e}", d.key)))
}

#[async_trait]
impl Audiences for StoreAudiences {
    async fn apply(&self, change: &AudienceChange) -> Result<(), PortError> {
        for _ in 0..MAX_RETRIES {
            match self.try_apply(change).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::Unavailable(e)) => return Err(PortError::Unavailable(e)),
                Err(e) => return Err(PortError::Rejected(e.to_string())),
            }
        }
        Err(PortError::Unavailable(format!(
            "audience {}:{} is busy: {MAX_RETRIES} lost races",
            change.network, change.audience_id
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_normalised_then_hashed() {
        let c = Client {
            phone: Some("+7 (900) 000-00-01".into()),
            email: Some("  Buyer@Romashka.TEST ".into()),
            ..Client::default()
        };
        let h = HashedContacts::of(&c).unwrap();
        assert_eq!(h.phone_sha256, Some(sha256_hex("79000000001")));
        assert_eq!(h.email_sha256, Some(sha256_hex("buyer@romashka.test")));
        // The well-known SHA-256 of "abc".
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(HashedContacts::of(&Client::default()), None);
        let only_email = Client {
            phone: Some(String::new()),
            email: Some("a@b.c".into()),
            ..Client::default()
        };
        assert_eq!(HashedContacts::of(&only_email).unwrap().phone_sha256, None);
    }

    #[test]
    fn audience_ids_are_url_safe() {
        assert!(valid_audience_id("lookalike-2026.q4_1"));
        for bad in ["", "a b", "a/b", "ж", &"x".repeat(101)] {
            assert!(!valid_audience_id(bad), "{bad:?}");
        }
    }
}
