//! API keys and the [`Tenant`] extractor (`Authorization: Bearer <key>`).

use std::fmt;

use axum::extract::FromRequestParts;
use crm_core::ports::SYSTEM_TENANT;
use http::header::AUTHORIZATION;
use http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

/// The API keys the service accepts, each belonging to one tenant.
///
/// Lookup compares the presented key with every configured key in constant
/// time per key (no early exit on the first differing byte, no hash-map
/// probing), so response timing does not reveal how much of a key matched.
/// Only key lengths may influence timing. `Debug` never prints keys.
#[derive(Clone, Default)]
pub struct ApiKeys {
    /// (key, tenant) pairs; keys are unique.
    entries: Vec<(Vec<u8>, String)>,
}

impl ApiKeys {
    /// Parses `tenant-a:key-a,tenant-b:key-b`.
    ///
    /// Entries are separated by commas; surrounding whitespace and empty
    /// entries are ignored. The tenant is the part before the first `:`, the
    /// key is the rest. Errors: an entry without `:`, an empty tenant or key,
    /// a tenant with characters other than `[A-Za-z0-9_.-]` or the reserved
    /// system tenant, a key used twice, or no entries at all.
    pub fn parse(spec: &str) -> Result<ApiKeys, String> {
        let mut keys = ApiKeys::default();
        for (n, entry) in spec.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some((tenant, key)) = entry.split_once(':') else {
                return Err(format!(
                    "API key entry {} has no ':' (expected tenant:key)",
                    n + 1
                ));
            };
            let (tenant, key) = (tenant.trim(), key.trim());
            validate_tenant(tenant).map_err(|e| format!("API key entry {}: {e}", n + 1))?;
            if key.is_empty() {
                return Err(format!("API key entry {}: empty key", n + 1));
            }
            if keys.entries.iter().any(|(k, _)| k == key.as_bytes()) {
                return Err(format!(
                    "API key entry {}: the same key is configured twice",
                    n + 1
                ));
            }
            keys.entries
                .push((key.as_bytes().to_vec(), tenant.to_string()));
        }
        if keys.entries.is_empty() {
            return Err("no API keys configured (expected tenant:key[,tenant:key…])".into());
        }
        Ok(keys)
    }

    /// One key for one tenant. Never fails; an empty key matches nothing.
    pub fn single(tenant: impl Into<String>, key: impl Into<String>) -> ApiKeys {
        ApiKeys {
            entries: vec![(key.into().into_bytes(), tenant.into())],
        }
    }

    /// The tenant a key belongs to, if any.
    pub fn tenant_for(&self, key: &str) -> Option<&str> {
        if key.is_empty() {
            return None;
        }
        let presented = key.as_bytes();
        let mut found = None;
        // Look at every entry, whatever matched before.
        for (candidate, tenant) in &self.entries {
            if constant_time_eq(candidate, presented) {
                found = Some(tenant.as_str());
            }
        }
        found
    }

    /// Number of configured keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No key configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field(
                "tenants",
                &self.entries.iter().map(|(_, t)| t).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn validate_tenant(tenant: &str) -> Result<(), String> {
    if tenant.is_empty() {
        return Err("empty tenant".into());
    }
    if tenant == SYSTEM_TENANT {
        return Err(format!("tenant '{SYSTEM_TENANT}' is reserved"));
    }
    if !tenant
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "tenant '{tenant}' may only contain letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

/// Byte-wise comparison whose running time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &y) in b.iter().enumerate() {
        let x = a.get(i).copied().unwrap_or(!y);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// The one bearer token of the request.
///
/// Errors: no `Authorization` header → 401; two or more → 400 naming
/// `Authorization` (which key would count is ambiguous); not `Bearer <key>` →
/// 401.
fn presented_key(parts: &Parts) -> Result<&str, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::unauthorized(
            "missing API key: send 'Authorization: Bearer <key>'",
        ));
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "Authorization",
            "send exactly one Authorization header",
        ));
    }
    value.to_str().ok().and_then(bearer_token).ok_or_else(|| {
        ApiError::unauthorized("malformed Authorization header: expected 'Bearer <key>'")
    })
}

/// Whether `key` is the configured admin key (constant time).
fn is_admin(state: &AppState, key: &str) -> bool {
    state
        .admin
        .as_deref()
        .is_some_and(|admin| admin.tenant_for(key).is_some())
}

/// The tenant of the request's API key. Extracting it answers 401 (in the
/// common error shape) when the `Authorization: Bearer <key>` header is
/// missing, malformed or names an unknown key, 400 when the header is sent
/// twice, and 403 for the admin key (it belongs to no tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Tenant(tenant) => Ok(Tenant(tenant)),
            Caller::Admin => Err(ApiError::forbidden(
                "the admin key only moves the clock; use a tenant's API key",
            )),
        }
    }
}

/// Who is calling: a tenant (its API key) or the operator (the admin key,
/// which may move the manual clock of the local server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A tenant's API key.
    Tenant(String),
    /// The admin key.
    Admin,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(parts)?;
        // Both lookups always run, so timing does not tell which kind matched.
        let tenant = state.keys.tenant_for(key);
        let admin = is_admin(state, key);
        match (tenant, admin) {
            (Some(tenant), _) => Ok(Caller::Tenant(tenant.to_string())),
            (None, true) => Ok(Caller::Admin),
            (None, false) => Err(ApiError::unauthorized("unknown API key")),
        }
    }
}

/// The token of a `Bearer <token>` header value (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_tenants() {
        let keys = ApiKeys::parse(" tenant-a:key-a , tenant-b:key:b ,").unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.tenant_for("key-a"), Some("tenant-a"));
        assert_eq!(keys.tenant_for("key:b"), Some("tenant-b"));
        assert_eq!(keys.tenant_for("key-"), None);
        assert_eq!(keys.tenant_for("key-ab"), None);
        assert_eq!(keys.tenant_for(""), None);
    }

    #[test]
    fn rejects_bad_specs() {
        for spec in [
            "",
            " , ",
            "tenant-a",
            ":key",
            "tenant-a:",
            "_system:key",
            "a b:key",
            "a:k,b:k",
        ] {
            assert!(ApiKeys::parse(spec).is_err(), "{spec:?} should be rejected");
        }
    }

    #[test]
    fn single_key() {
        let keys = ApiKeys::single("t", "secret");
        assert_eq!(keys.tenant_for("secret"), Some("t"));
        assert_eq!(keys.tenant_for("Secret"), None);
        assert!(!format!("{keys:?}").contains("secret"));
    }

    #[test]
    fn compares_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
