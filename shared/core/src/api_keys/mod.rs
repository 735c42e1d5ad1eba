//! API keys as the service stores them: only the SHA-256 hash of a key is
//! kept, with the tenant it belongs to, a label and its life (created,
//! revoked). The [`ApiKeyStore`] port is implemented on SQLite
//! (`crm-embedded`), DynamoDB (`crm-aws`) and in memory ([`MemApiKeys`]);
//! the contract suite in `crm-tests` checks all three.
//!
//! A key is shown once, when it is made ([`NewKey`]); afterwards nothing can
//! tell it again. A presented key is hashed and looked up by its hash, so the
//! stores never compare secrets. The keys are 256 random bits, so an unsalted,
//! fast hash is enough: there is no dictionary to try against it.

mod memory;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::ports::SYSTEM_TENANT;

pub use memory::MemApiKeys;

/// The pseudo-tenant of the operator's admin key (moves the manual clock of
/// the local server; belongs to no tenant). Not a valid tenant name.
pub const ADMIN_TENANT: &str = "_admin";

/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// SHA-256 of an API key. `Debug` and `Display` print nothing of it: the
/// hash is not shown to anyone (a list prints ids and labels).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of the key `secret` (as presented, no trimming).
    pub fn of(secret: &str) -> KeyHash {
        KeyHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Lower-case hex, 64 characters: how the stores keep it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`KeyHash::to_hex`]'s output (either case).
    pub fn from_hex(hex: &str) -> Option<KeyHash> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(KeyHash(out))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// One stored key: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (`key-` + 16 hex digits): what `list` shows and `revoke` takes.
    pub id: String,
    /// The tenant the key belongs to ([`ADMIN_TENANT`] for an admin key).
    pub tenant: String,
    /// What the operator called it ("ci", "erp-prod").
    pub label: String,
    /// SHA-256 of the key.
    pub hash: KeyHash,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key authenticates no one.
    pub revoked_at: Option<DateTime<Utc>>,
    /// What a tenant key may do ([`Role::Admin`] for keys stored before
    /// roles existed).
    pub role: Role,
}

/// What a tenant's key may do. An `admin` key may do everything; a `member`
/// key may read everything and work with items (create, change, delete,
/// complete tasks, post events, run now, stop automation) but not change
/// the automation (pipelines, robots, triggers) or the directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Role {
    /// Full rights (the default: keys without a role are admin keys).
    #[default]
    Admin,
    /// Works with items; may not change automation or the directory.
    Member,
}

impl Role {
    /// `"admin"` or `"member"`: how it is stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Parses [`Role::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// A stored role; a missing value (a key stored before roles existed)
    /// reads as admin. An unknown value is `None`.
    pub fn from_stored(s: Option<&str>) -> Option<Role> {
        s.map_or(Some(Role::Admin), Role::parse)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ApiKeyRecord {
    /// Not revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// A key just made: the record to store and the secret to show once.
pub struct NewKey {
    /// The record (holds the hash only).
    pub record: ApiKeyRecord,
    /// The key itself: `crm_` + 256 random bits in hex (URL-safe).
    pub secret: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl NewKey {
    /// A fresh random key for `tenant` labelled `label`, created `now`.
    /// Errors: an invalid tenant or label (see [`validate_tenant`],
    /// [`validate_label`]); [`ADMIN_TENANT`] is allowed here.
    pub fn generate(tenant: &str, label: &str, now: DateTime<Utc>) -> Result<NewKey, String> {
        if tenant != ADMIN_TENANT {
            validate_tenant(tenant)?;
        }
        validate_label(label)?;
        Ok(NewKey::from_secret(tenant, label, generate_secret(), now))
    }

    /// The record of an existing secret (a key migrated from an older
    /// clear-text file). Does not validate.
    pub fn from_secret(tenant: &str, label: &str, secret: String, now: DateTime<Utc>) -> NewKey {
        NewKey {
            record: ApiKeyRecord {
                id: format!("key-{:016x}", rand::random::<u64>()),
                tenant: tenant.to_string(),
                label: label.to_string(),
                hash: KeyHash::of(&secret),
                created_at: now,
                revoked_at: None,
                role: Role::Admin,
            },
            secret,
        }
    }

    /// The same key with `role`.
    pub fn with_role(mut self, role: Role) -> NewKey {
        self.record.role = role;
        self
    }
}

/// A fresh key: `crm_` + 256 random bits in hex.
pub fn generate_secret() -> String {
    format!(
        "crm_{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

/// A tenant name: 1–128 characters of `[A-Za-z0-9_.-]`, not the reserved
/// system or admin tenant.
pub fn validate_tenant(tenant: &str) -> Result<(), String> {
    if tenant.is_empty() {
        return Err("empty tenant".into());
    }
    if tenant == SYSTEM_TENANT || tenant == ADMIN_TENANT {
        return Err(format!("tenant '{tenant}' is reserved"));
    }
    if tenant.len() > 128
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "tenant '{tenant}' may only contain letters, digits, '-', '_' and '.' (at most 128)"
        ));
    }
    Ok(())
}

/// A label: 1–[`MAX_LABEL_CHARS`] characters, no control characters.
pub fn validate_label(label: &str) -> Result<(), String> {
    if label.trim().is_empty() {
        return Err("empty label".into());
    }
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(format!(
            "a label has at most {MAX_LABEL_CHARS} characters and no control characters"
        ));
    }
    Ok(())
}

/// Which keys [`ApiKeyStore::list`] returns: all of them, or those of one
/// tenant and/or one label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only this tenant's keys.
    pub tenant: Option<String>,
    /// Only keys with this label.
    pub label: Option<String>,
}

impl KeyFilter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &ApiKeyRecord) -> bool {
        self.tenant.as_ref().is_none_or(|t| *t == record.tenant)
            && self.label.as_ref().is_none_or(|l| *l == record.label)
    }
}

/// Failures of an [`ApiKeyStore`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    /// A key with the same hash (or id) is already stored. Nothing was written.
    #[error("an API key with the same {0} is already stored")]
    Duplicate(&'static str),
    /// No key has this id.
    #[error("no API key with id '{0}'")]
    NotFound(String),
    /// The backend failed; retry later.
    #[error("API key store unavailable: {0}")]
    Unavailable(String),
}

/// Where API keys are kept (hashes only).
///
/// Lookups by hash are the hot path (one point read); `list` and `revoke` are
/// operator commands and may read the whole store.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// The key with this hash, revoked or not.
    async fn find(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, KeyStoreError>;

    /// Store a new key. Errors: [`KeyStoreError::Duplicate`] when its hash is
    /// already stored.
    async fn add(&self, record: &ApiKeyRecord) -> Result<(), KeyStoreError>;

    /// The keys that pass `filter`, ordered by tenant, creation time, id.
    async fn list(&self, filter: &KeyFilter) -> Result<Vec<ApiKeyRecord>, KeyStoreError>;

    /// Revoke the key `id` at `at` and return it. Revoking a revoked key
    /// keeps its first revocation time. Errors: [`KeyStoreError::NotFound`].
    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<ApiKeyRecord, KeyStoreError>;
}

/// Sort `records` as [`ApiKeyStore::list`] returns them.
pub fn sort_for_list(records: &mut [ApiKeyRecord]) {
    records.sort_by(|a, b| (&a.tenant, a.created_at, &a.id).cmp(&(&b.tenant, b.created_at, &b.id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_and_never_print() {
        let h = KeyHash::of("secret");
        assert_eq!(
            h.to_hex(),
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
        );
        assert_eq!(KeyHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(KeyHash::from_hex(&h.to_hex().to_uppercase()), Some(h));
        assert_eq!(KeyHash::from_hex("abc"), None);
        assert!(!format!("{h:?}").contains("2bb8"));
    }

    #[test]
    fn generated_keys_are_random_url_safe_and_hashed() {
        let now = Utc::now();
        let a = NewKey::generate("acme", "ci", now).unwrap();
        let b = NewKey::generate("acme", "ci", now).unwrap();
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.record.id, b.record.id);
        assert!(a.secret.starts_with("crm_") && a.secret.len() == 68);
        assert!(
            a.secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        );
        assert_eq!(a.record.hash, KeyHash::of(&a.secret));
        assert!(!format!("{a:?}").contains(&a.secret));
        assert!(NewKey::generate("_system", "x", now).is_err());
        assert!(NewKey::generate("acme", " ", now).is_err());
        assert!(NewKey::generate(ADMIN_TENANT, "admin", now).is_ok());
        assert!(validate_tenant(ADMIN_TENANT).is_err());
        assert_eq!(a.record.role, Role::Admin, "keys are admin keys by default");
        let m = NewKey::generate("acme", "sales", now)
            .unwrap()
            .with_role(Role::Member);
        assert_eq!(m.record.role, Role::Member);
    }

    #[test]
    fn roles_are_stored_by_name_and_a_missing_role_reads_as_admin() {
        for r in [Role::Admin, Role::Member] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::from_stored(None), Some(Role::Admin));
        assert_eq!(Role::from_stored(Some("member")), Some(Role::Member));
        assert_eq!(Role::from_stored(Some("owner")), None);
    }
}
