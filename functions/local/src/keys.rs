//! API keys of the local server: from `CRM_API_KEYS`, or one key generated on
//! first start and kept in the data directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crm_http::ApiKeys;

/// Environment variable with `tenant-a:key-a,tenant-b:key-b`.
pub const API_KEYS_ENV: &str = "CRM_API_KEYS";
/// File in the data directory that keeps the generated key.
pub const KEY_FILE: &str = "api-key";
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
    let path = data_dir.join(KEY_FILE);
    let (key, source) = match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => (s.trim().to_string(), KeySource::Stored(path)),
        Ok(_) => (write_new_key(data_dir, &path)?, KeySource::Generated(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (write_new_key(data_dir, &path)?, KeySource::Generated(path))
        }
        Err(e) => return Err(KeyError::Io(path, e)),
    };
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

/// Generate a key and store it (owner-only permissions on Unix).
fn write_new_key(data_dir: &Path, path: &Path) -> Result<String, KeyError> {
    std::fs::create_dir_all(data_dir).map_err(|e| KeyError::Io(data_dir.to_path_buf(), e))?;
    let key = generate_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| KeyError::Io(path.to_path_buf(), e))?;
    writeln!(file, "{key}")
        .and_then(|()| file.sync_all())
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
