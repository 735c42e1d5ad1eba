//! API keys of the local server.
//!
//! Keys live hashed in the data directory's database (table `api_keys`, see
//! `crm_embedded::SqliteApiKeys`); `crm-automation keys add|list|revoke`
//! manages them. On start:
//! - a clear-text key file of an older version (`api-key`, `admin-key`) is
//!   moved into the store (hashed) and deleted;
//! - `CRM_API_KEYS` (`tenant:key,…`) adds keys for this run, hashed in
//!   memory, never written anywhere;
//! - without it, and with no active tenant key stored, one key is generated
//!   for tenant `default`, stored hashed and shown once (the banner);
//! - likewise the admin key (moves the manual clock): `CRM_ADMIN_KEY`, or a
//!   stored admin key (pseudo-tenant `_admin`), generated when there is none.
//!
//! A key shown once cannot be shown again; a lost key is replaced with
//! `keys add` (and the old one revoked).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use crm_core::api_keys::{ADMIN_TENANT, ApiKeyStore, KeyFilter, KeyHash, KeyStoreError, NewKey};
use crm_http::ApiKeys;

/// Environment variable with `tenant-a:key-a,tenant-b:key-b`.
pub const API_KEYS_ENV: &str = "CRM_API_KEYS";
/// Environment variable with the admin key (moves the manual clock).
pub const ADMIN_KEY_ENV: &str = "CRM_ADMIN_KEY";
/// Clear-text key file of older versions, migrated into the store on start.
pub const LEGACY_KEY_FILE: &str = "api-key";
/// Clear-text admin key file of older versions, migrated likewise.
pub const LEGACY_ADMIN_KEY_FILE: &str = "admin-key";
/// Tenant of the generated key.
pub const DEFAULT_TENANT: &str = "default";
/// Label of a generated key.
pub const GENERATED_LABEL: &str = "generated";
/// Label of a key moved from a clear-text file.
pub const MIGRATED_LABEL: &str = "migrated";

/// Where a key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The environment (`CRM_API_KEYS` / `CRM_ADMIN_KEY`).
    Env,
    /// Generated now and stored hashed: shown this once.
    Generated,
    /// Moved now from this clear-text file (deleted) into the store.
    Migrated(PathBuf),
    /// Stored earlier: it cannot be shown.
    Stored,
}

/// The keys given at start plus the tenant of the walk-through and, when it is
/// known this once, its key.
#[derive(Debug, Clone)]
pub struct LoadedKeys {
    /// Keys from `CRM_API_KEYS` (hashed); empty otherwise.
    pub keys: ApiKeys,
    /// The first configured tenant (`default` for a generated key).
    pub tenant: String,
    /// That tenant's key in clear when it is known now (environment,
    /// generated or migrated now); `None` when it was stored earlier.
    pub key: Option<String>,
    /// Where it came from.
    pub source: KeySource,
}

/// Errors loading keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `CRM_API_KEYS` is malformed.
    #[error("{API_KEYS_ENV}: {0}")]
    Spec(String),
    /// A clear-text key file could not be read or deleted.
    #[error("API key file {path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, std::io::Error),
    /// The key store failed.
    #[error("API key store: {0}")]
    Store(#[from] KeyStoreError),
    /// `CRM_ADMIN_KEY` is unusable.
    #[error("{ADMIN_KEY_ENV}: {0}")]
    Admin(String),
}

/// The admin key: the only key that moves the manual clock.
#[derive(Clone)]
pub struct AdminKey {
    /// The key in clear when known now (environment, generated, migrated).
    pub key: Option<String>,
    /// Where it came from (`Env` for `CRM_ADMIN_KEY`).
    pub source: KeySource,
}

impl AdminKey {
    /// The key given in the environment (kept in memory only, hashed by the
    /// router); stored admin keys are found in the store.
    pub fn from_env(&self) -> Option<&str> {
        match self.source {
            KeySource::Env => self.key.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Load the tenant keys: migrate `<data_dir>/api-key`, then `spec` (the
/// value of `CRM_API_KEYS`) when given, otherwise the store's keys, generating
/// one when it holds no active tenant key.
pub async fn load_keys(
    spec: Option<&str>,
    data_dir: &Path,
    store: &dyn ApiKeyStore,
    now: DateTime<Utc>,
) -> Result<LoadedKeys, KeyError> {
    let migrated = migrate_file(data_dir, LEGACY_KEY_FILE, DEFAULT_TENANT, store, now).await?;
    if let Some(spec) = spec.filter(|s| !s.trim().is_empty()) {
        let keys = ApiKeys::parse(spec).map_err(KeyError::Spec)?;
        // `parse` accepted it, so the first non-empty entry is `tenant:key`.
        let (tenant, key) = spec
            .split(',')
            .map(str::trim)
            .find(|e| !e.is_empty())
            .and_then(|e| e.split_once(':'))
            .map(|(t, k)| (t.trim().to_string(), k.trim().to_string()))
            .ok_or_else(|| KeyError::Spec("no entries".into()))?;
        return Ok(LoadedKeys {
            keys,
            tenant,
            key: Some(key),
            source: KeySource::Env,
        });
    }
    if let Some((secret, path)) = migrated {
        return Ok(LoadedKeys {
            keys: ApiKeys::none(),
            tenant: DEFAULT_TENANT.to_string(),
            key: Some(secret),
            source: KeySource::Migrated(path),
        });
    }
    let active: Vec<_> = store
        .list(&KeyFilter::default())
        .await?
        .into_iter()
        .filter(|r| r.is_active() && r.tenant != ADMIN_TENANT)
        .collect();
    if active.is_empty() {
        let new = NewKey::generate(DEFAULT_TENANT, GENERATED_LABEL, now).map_err(KeyError::Spec)?;
        store.add(&new.record).await?;
        tracing::info!(id = %new.record.id, tenant = DEFAULT_TENANT, "generated an API key (stored hashed)");
        return Ok(LoadedKeys {
            keys: ApiKeys::none(),
            tenant: DEFAULT_TENANT.to_string(),
            key: Some(new.secret),
            source: KeySource::Generated,
        });
    }
    let tenant = active
        .iter()
        .find(|r| r.tenant == DEFAULT_TENANT)
        .unwrap_or(&active[0])
        .tenant
        .clone();
    Ok(LoadedKeys {
        keys: ApiKeys::none(),
        tenant,
        key: None,
        source: KeySource::Stored,
    })
}

/// Load the admin key: migrate `<data_dir>/admin-key`, then `env` (the value
/// of `CRM_ADMIN_KEY`) when given, otherwise the store's admin key, generated
/// when there is none. It must differ from every tenant key.
pub async fn load_admin_key(
    env: Option<&str>,
    data_dir: &Path,
    store: &dyn ApiKeyStore,
    tenants: &ApiKeys,
    now: DateTime<Utc>,
) -> Result<AdminKey, KeyError> {
    let migrated = migrate_file(data_dir, LEGACY_ADMIN_KEY_FILE, ADMIN_TENANT, store, now).await?;
    if let Some(key) = env.map(str::trim).filter(|s| !s.is_empty()) {
        let hash = KeyHash::of(key);
        let stored_tenant = store
            .find(&hash)
            .await?
            .is_some_and(|r| r.is_active() && r.tenant != ADMIN_TENANT);
        if tenants.tenant_for_hash(&hash).is_some() || stored_tenant {
            return Err(KeyError::Admin(
                "the admin key must differ from every tenant's API key".into(),
            ));
        }
        return Ok(AdminKey {
            key: Some(key.to_string()),
            source: KeySource::Env,
        });
    }
    if let Some((secret, path)) = migrated {
        return Ok(AdminKey {
            key: Some(secret),
            source: KeySource::Migrated(path),
        });
    }
    let admin = KeyFilter {
        tenant: Some(ADMIN_TENANT.to_string()),
        label: None,
    };
    if store.list(&admin).await?.iter().any(|r| r.is_active()) {
        return Ok(AdminKey {
            key: None,
            source: KeySource::Stored,
        });
    }
    let new = NewKey::generate(ADMIN_TENANT, GENERATED_LABEL, now).map_err(KeyError::Admin)?;
    store.add(&new.record).await?;
    tracing::info!(id = %new.record.id, "generated the admin key (stored hashed)");
    Ok(AdminKey {
        key: Some(new.secret),
        source: KeySource::Generated,
    })
}

/// Move the key of a clear-text file of an older version into the store
/// (hashed, for `tenant`) and delete the file. Returns the key and the
/// file's path when there was one. A key already stored is not added twice
/// (a start that stopped between the two steps).
async fn migrate_file(
    data_dir: &Path,
    file: &str,
    tenant: &str,
    store: &dyn ApiKeyStore,
    now: DateTime<Utc>,
) -> Result<Option<(String, PathBuf)>, KeyError> {
    let path = data_dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KeyError::Io(path, e)),
    };
    let secret = text.trim().to_string();
    if !secret.is_empty() {
        let key = NewKey::from_secret(tenant, MIGRATED_LABEL, secret.clone(), now);
        match store.add(&key.record).await {
            Ok(()) | Err(KeyStoreError::Duplicate(_)) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::warn!(path = %path.display(), tenant, "moved a clear-text API key file into the hashed key store and deleted it");
    }
    std::fs::remove_file(&path).map_err(|e| KeyError::Io(path.clone(), e))?;
    Ok((!secret.is_empty()).then_some((secret, path)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::api_keys::MemApiKeys;

    #[tokio::test]
    async fn keys_from_the_environment_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemApiKeys::new();
        let k = load_keys(Some(" a:key-a, b:key-b"), dir.path(), &store, Utc::now())
            .await
            .unwrap();
        assert_eq!(k.source, KeySource::Env);
        assert_eq!((k.tenant.as_str(), k.key.as_deref()), ("a", Some("key-a")));
        assert_eq!(k.keys.tenant_for("key-b"), Some("b"));
        assert!(store.list(&KeyFilter::default()).await.unwrap().is_empty());
        assert!(matches!(
            load_keys(Some("nocolon"), dir.path(), &store, Utc::now()).await,
            Err(KeyError::Spec(_))
        ));
    }

    #[tokio::test]
    async fn generated_once_stored_hashed_then_not_shown_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemApiKeys::new();
        let first = load_keys(None, dir.path(), &store, Utc::now())
            .await
            .unwrap();
        assert_eq!(first.source, KeySource::Generated);
        assert_eq!(first.tenant, DEFAULT_TENANT);
        let key = first.key.unwrap();
        assert!(key.starts_with("crm_") && key.len() == 68);
        let stored = store.find(&KeyHash::of(&key)).await.unwrap().unwrap();
        assert_eq!(stored.tenant, DEFAULT_TENANT);
        let again = load_keys(Some("  "), dir.path(), &store, Utc::now())
            .await
            .unwrap();
        assert_eq!(again.source, KeySource::Stored);
        assert_eq!(again.key, None);
        assert_eq!(again.tenant, DEFAULT_TENANT);
        assert_eq!(store.list(&KeyFilter::default()).await.unwrap().len(), 1);
        // No file holds it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_clear_text_file_is_moved_into_the_store_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemApiKeys::new();
        std::fs::write(dir.path().join(LEGACY_KEY_FILE), "crm_old\n").unwrap();
        std::fs::write(dir.path().join(LEGACY_ADMIN_KEY_FILE), "crm_admin\n").unwrap();
        let k = load_keys(None, dir.path(), &store, Utc::now())
            .await
            .unwrap();
        assert!(matches!(k.source, KeySource::Migrated(_)));
        assert_eq!(k.key.as_deref(), Some("crm_old"));
        let a = load_admin_key(None, dir.path(), &store, &k.keys, Utc::now())
            .await
            .unwrap();
        assert_eq!(a.key.as_deref(), Some("crm_admin"));
        assert!(!dir.path().join(LEGACY_KEY_FILE).exists());
        assert!(!dir.path().join(LEGACY_ADMIN_KEY_FILE).exists());
        let old = store.find(&KeyHash::of("crm_old")).await.unwrap().unwrap();
        assert_eq!(old.tenant, DEFAULT_TENANT);
        let admin = store
            .find(&KeyHash::of("crm_admin"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(admin.tenant, ADMIN_TENANT);
    }

    #[tokio::test]
    async fn the_admin_key_must_differ_from_tenant_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemApiKeys::new();
        let keys = ApiKeys::parse("a:same").unwrap();
        let err = load_admin_key(Some("same"), dir.path(), &store, &keys, Utc::now())
            .await
            .unwrap_err();
        assert!(matches!(err, KeyError::Admin(_)), "{err}");
        let first = load_admin_key(None, dir.path(), &store, &keys, Utc::now())
            .await
            .unwrap();
        assert_eq!(first.source, KeySource::Generated);
        let again = load_admin_key(None, dir.path(), &store, &keys, Utc::now())
            .await
            .unwrap();
        assert_eq!((again.source, again.key), (KeySource::Stored, None));
    }
}
