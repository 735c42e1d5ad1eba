//! The blob-storage port: files by key (document templates, generated
//! documents). Keys are tenant-prefixed (`{tenant}/{path}`), so one tenant's
//! blobs never share a key with another's.
//!
//! Contract (checked by the blob contract suite on every adapter: memory, the
//! data directory, S3): `put` then `get` returns the same bytes; `put` on an
//! existing key replaces it (so a retried writer is idempotent); `get` of an
//! unknown key is `None`; `delete` of an unknown key is fine.

use std::fmt;

use async_trait::async_trait;

/// Longest key accepted (S3 allows 1,024 bytes).
pub const MAX_BLOB_KEY: usize = 512;

/// The key of a blob: a tenant and a path of safe segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey {
    tenant: String,
    path: String,
}

fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl BlobKey {
    /// `tenant` is one segment, `path` one or more segments separated by `/`;
    /// a segment holds ASCII letters, digits, `-`, `_`, `.`, `:` (never `.`
    /// or `..` alone).
    pub fn new(tenant: &str, path: &str) -> Result<Self, BlobError> {
        let ok = safe_segment(tenant)
            && path.split('/').all(safe_segment)
            && tenant.len() + path.len() < MAX_BLOB_KEY;
        if !ok {
            return Err(BlobError::InvalidKey(format!("{tenant}/{path}")));
        }
        Ok(BlobKey {
            tenant: tenant.to_string(),
            path: path.to_string(),
        })
    }

    /// Parse `{tenant}/{path}` as written by [`BlobKey::as_string`].
    pub fn parse(full: &str) -> Result<Self, BlobError> {
        let (tenant, path) = full
            .split_once('/')
            .ok_or_else(|| BlobError::InvalidKey(full.to_string()))?;
        BlobKey::new(tenant, path)
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// `{tenant}/{path}`: the stored key.
    pub fn as_string(&self) -> String {
        format!("{}/{}", self.tenant, self.path)
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.path)
    }
}

/// Blob-storage failures.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key '{0}'")]
    InvalidKey(String),
    /// The backend failed; the operation may be retried.
    #[error("blob storage unavailable: {0}")]
    Unavailable(String),
}

/// Files by key.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Store `bytes` under `key`, replacing what was there.
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str)
    -> Result<(), BlobError>;
    /// The bytes under `key`, if any.
    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError>;
    /// Remove `key` (nothing if it is not there).
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
}

impl From<BlobError> for crate::error::EngineError {
    fn from(e: BlobError) -> Self {
        use crate::ports::PortError;
        match e {
            BlobError::InvalidKey(k) => PortError::Rejected(format!("invalid blob key '{k}'")),
            BlobError::Unavailable(why) => PortError::Unavailable(format!("blob storage: {why}")),
        }
        .into()
    }
}

impl From<BlobError> for crate::robots::ActionError {
    fn from(e: BlobError) -> Self {
        crate::robots::ActionError::Engine(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_tenant_prefixed_and_refuse_path_tricks() {
        let k = BlobKey::new("acme", "templates/dtp-1/template.docx").unwrap();
        assert_eq!(k.as_string(), "acme/templates/dtp-1/template.docx");
        assert_eq!(BlobKey::parse(&k.as_string()).unwrap(), k);
        for (t, p) in [
            ("acme", "../other/x"),
            ("acme", "a//b"),
            ("", "x"),
            ("ac/me", "x"),
            ("acme", "a b"),
            ("acme", ""),
        ] {
            assert!(BlobKey::new(t, p).is_err(), "{t}/{p}");
        }
    }
}
