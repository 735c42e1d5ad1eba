//! API keys of the local server: from `CRM_API_KEYS`, or one key generated on
//! first start and kept in the data directory.

use std::path::{Path, PathBuf};

use crm_http::ApiKeys;

/// Environment variable with `tenant-a:key-a,tenant-b:key-b`.
pub const API_KEYS_ENV: &str = "CRM_API_KEYS";
/// File in the data directory that keeps the generated key.
pub const KEY_FILE: &str = "api-key";
/// Environment variable with the admin key (moves the manual clock).
pub const ADMIN_KEY_ENV: &str = "CRM_ADMIN_KEY";
/// File in the data directory that keeps the generated admin key.
pub const ADMIN_KEY_FILE: &str = "admin-key";
/// Tenant of the generated key.
pub const DEFAULT_TENANT: &str = "default";

/// Where the keys came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `CRM_API_KEYS`.
    Env,
    /// Generated now and written to this file.
    Generated(PathBuf),
    /// Read from this file (generated on an earlier start).
    Stored(PathBuf),
}

/// The accepted keys plus the first tenant and its key (used by `--demo`
/// and printed when generated).
#[derive(Debug, Clone)]
pub struct LoadedKeys {
    /// Every accepted key.
    pub keys: ApiKeys,
    /// The first configured tenant.
    pub tenant: String,
    /// That tenant's key.
    pub key: String,
    /// Where the keys came from.
    pub source: KeySource,
}

/// Errors loading keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `CRM_API_KEYS` is malformed.
    #[error("{API_KEYS_ENV}: {0}")]
    Spec(String),
    /// The key file could not be read or written.
    #[error("API key file {path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, std::io::Error),
    /// A key file that group or others may read or write is not used.
    #[error(
        "key file {path} may be read by other users (mode {mode:o}); \
         restrict it with `chmod 600 {path}` and start again",
        path = .0.display(), mode = .1
    )]
    LoosePermissions(PathBuf, u32),
    /// `CRM_ADMIN_KEY` is unusable.
    #[error("{ADMIN_KEY_ENV}: {0}")]
    Admin(String),
}

/// The admin key: the only key that moves the manual clock.
#[derive(Clone)]
pub struct AdminKey {
    /// The key.
    pub key: String,
    /// Where it came from (`Env` for `CRM_ADMIN_KEY`).
    pub source: KeySource,
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Load the admin key: `env` (the value of `CRM_ADMIN_KEY`) when given,
/// otherwise `<data_dir>/admin-key`, generated on first use. It must differ
/// from every tenant key.
pub fn load_admin_key(
    env: Option<&str>,
    data_dir: &Path,
    tenants: &ApiKeys,
) -> Result<AdminKey, KeyError> {
    let admin = match env.map(str::trim).filter(|s| !s.is_empty()) {
        Some(key) => AdminKey {
            key: key.to_string(),
            source: KeySource::Env,
        },
        None => {
            let (key, source) = stored_or_generated(data_dir, ADMIN_KEY_FILE)?;
            AdminKey { key, source }
        }
    };
    if tenants.tenant_for(&admin.key).is_some() {
        return Err(KeyError::Admin(
            "the admin key must differ from every tenant's API key".into(),
        ));
    }
    Ok(admin)
}

/// The key kept in `<data_dir>/<file>`, generated when absent or empty. A
/// file that group or others may access is refused.
fn stored_or_generated(data_dir: &Path, file: &str) -> Result<(String, KeySource), KeyError> {
    let path = data_dir.join(file);
    let read = std::fs::File::open(&path).and_then(|f| {
        let loose = crate::datadir::loose_mode(&f.metadata()?);
        let text = std::io::read_to_string(f)?;
        Ok((loose, text))
    });
    match read {
        Ok((Some(mode), _)) => Err(KeyError::LoosePermissions(path, mode)),
        Ok((None, s)) if !s.trim().is_empty() => {
            Ok((s.trim().to_string(), KeySource::Stored(path)))
        }
        Ok((None, _)) => Ok((write_new_key(data_dir, &path)?, KeySource::Generated(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((write_new_key(data_dir, &path)?, KeySource::Generated(path)))
        }
        Err(e) => Err(KeyError::Io(path, e)),
    }
}

/// Load the keys: from `spec` (the value of `CRM_API_KEYS`) when given,
/// otherwise from `<data_dir>/api-key`, generating that file on first use.
pub fn load_keys(spec: Option<&str>, data_dir: &Path) -> Result<LoadedKeys, KeyError> {
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
            key,
            source: KeySource::Env,
        });
    }
    let (key, source) = stored_or_generated(data_dir, KEY_FILE)?;
    Ok(LoadedKeys {
        keys: ApiKeys::single(DEFAULT_TENANT, key.clone()),
        tenant: DEFAULT_TENANT.to_string(),
        key,
        source,
    })
}

/// A fresh key: `crm_` + 256 random bits in hex.
pub fn generate_key() -> String {
    format!(
        "crm_{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

/// Generate a key and store it (owner-only permissions on Unix; the
/// directory is created 0700 if needed).
fn write_new_key(data_dir: &Path, path: &Path) -> Result<String, KeyError> {
    crate::datadir::prepare_data_dir(data_dir)
        .map_err(|e| KeyError::Io(data_dir.to_path_buf(), e))?;
    let key = generate_key();
    crate::datadir::write_private(path, format!("{key}\n").as_bytes())
        .map_err(|e| KeyError::Io(path.to_path_buf(), e))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let k = load_keys(Some(" a:key-a, b:key-b"), dir.path()).unwrap();
        assert_eq!(k.source, KeySource::Env);
        assert_eq!((k.tenant.as_str(), k.key.as_str()), ("a", "key-a"));
        assert_eq!(k.keys.tenant_for("key-b"), Some("b"));
        assert!(!dir.path().join(KEY_FILE).exists());
        assert!(matches!(
            load_keys(Some("nocolon"), dir.path()),
            Err(KeyError::Spec(_))
        ));
    }

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = load_keys(None, &data).unwrap();
        assert!(matches!(first.source, KeySource::Generated(_)));
        assert_eq!(first.tenant, DEFAULT_TENANT);
        assert!(first.key.starts_with("crm_") && first.key.len() == 68);
        let again = load_keys(Some("  "), &data).unwrap();
        assert!(matches!(again.source, KeySource::Stored(_)));
        assert_eq!(again.key, first.key);
        assert_eq!(again.keys.tenant_for(&first.key), Some(DEFAULT_TENANT));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
