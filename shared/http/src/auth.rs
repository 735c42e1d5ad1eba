//! API keys and the [`Tenant`] extractor (`Authorization: Bearer <key>`).
//!
//! A presented key is hashed (SHA-256) and looked up by its hash: first among
//! the keys given at start ([`ApiKeys`], e.g. `CRM_API_KEYS`, kept hashed in
//! memory), then the admin key, then the key store through its cache
//! ([`crate::key_cache::CachedKeys`]). No key is kept or compared in clear.
//! A tenant's request then takes a token of its bucket
//! ([`crate::throttle::TenantThrottle`]): none left → 429 with `Retry-After`.
//! A tenant's write (see [`crate::write_gate::is_write`]) then passes the
//! router's [`crate::write_gate::WriteGate`], when it has one: the local
//! server's holds it while that tenant's queued work is far behind.

use std::collections::HashMap;
use std::fmt;

use axum::extract::FromRequestParts;
use crm_core::api_keys::{KeyHash, Role, validate_tenant};
use http::header::AUTHORIZATION;
use http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

/// API keys given at start (not from a store), each belonging to one tenant,
/// kept as SHA-256 hashes only.
///
/// Lookup hashes the presented key and finds the hash in a map: timing can
/// only tell something about the hash of a wrong key, which says nothing
/// about any configured key. `Debug` prints the tenants only.
#[derive(Clone, Default)]
pub struct ApiKeys {
    /// Hash of each key → its tenant; keys are unique.
    entries: HashMap<KeyHash, String>,
}

impl ApiKeys {
    /// Parses `tenant-a:key-a,tenant-b:key-b` and keeps the keys' hashes.
    ///
    /// Entries are separated by commas; surrounding whitespace and empty
    /// entries are ignored. The tenant is the part before the first `:`, the
    /// key is the rest. Errors: an entry without `:`, an empty tenant or key,
    /// a tenant with characters other than `[A-Za-z0-9_.-]` or a reserved
    /// tenant (`_system`, `_admin`), a key used twice, or no entries at all.
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
            if keys
                .entries
                .insert(KeyHash::of(key), tenant.to_string())
                .is_some()
            {
                return Err(format!(
                    "API key entry {}: the same key is configured twice",
                    n + 1
                ));
            }
        }
        if keys.entries.is_empty() {
            return Err("no API keys configured (expected tenant:key[,tenant:key…])".into());
        }
        Ok(keys)
    }

    /// One key for one tenant. Never fails; an empty key matches nothing.
    pub fn single(tenant: impl Into<String>, key: impl Into<String>) -> ApiKeys {
        let key = key.into();
        let mut entries = HashMap::new();
        if !key.is_empty() {
            entries.insert(KeyHash::of(&key), tenant.into());
        }
        ApiKeys { entries }
    }

    /// No keys: every key is looked up in the key store.
    pub fn none() -> ApiKeys {
        ApiKeys::default()
    }

    /// The tenant a key belongs to, if any.
    pub fn tenant_for(&self, key: &str) -> Option<&str> {
        if key.is_empty() {
            return None;
        }
        self.tenant_for_hash(&KeyHash::of(key))
    }

    /// The tenant of the key with this hash, if any.
    pub fn tenant_for_hash(&self, hash: &KeyHash) -> Option<&str> {
        self.entries.get(hash).map(String::as_str)
    }

    /// Number of configured keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No key configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tenants, in no particular order (one per key).
    pub fn tenants(&self) -> impl Iterator<Item = &str> {
        self.entries.values().map(String::as_str)
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("tenants", &self.entries.values().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
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

/// Who holds the key with this hash: the keys given at start, then the
/// admin key, then the key store (through its cache). A store failure is
/// logged and answered 503.
async fn resolve(state: &AppState, hash: &KeyHash) -> Result<Option<Caller>, ApiError> {
    if let Some(tenant) = state.keys.tenant_for_hash(hash) {
        return Ok(Some(Caller::Tenant(TenantKey {
            tenant: tenant.to_string(),
            role: Role::Admin,
            label: CONFIGURED_KEY_LABEL.to_string(),
        })));
    }
    if state.admin.as_ref() == Some(hash) {
        return Ok(Some(Caller::Admin));
    }
    let Some(store) = &state.key_store else {
        return Ok(None);
    };
    store.lookup(hash).await.map_err(|e| {
        tracing::error!(error = %e, "API key lookup failed");
        ApiError::unavailable()
    })
}

/// The tenant of the request's API key. Extracting it answers 401 (in the
/// common error shape) when the `Authorization: Bearer <key>` header is
/// missing, malformed or names an unknown or revoked key, 400 when the
/// header is sent twice, 403 for the admin key (it belongs to no tenant),
/// 429 with `Retry-After` when the tenant is over its rate, and 503 when the
/// key store cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Tenant(
            TenantKey::from_request_parts(parts, state).await?.tenant,
        ))
    }
}

/// The label of the keys given at start (`CRM_API_KEYS`, [`ApiKeys`]),
/// which have none of their own: what "run now by <label>" names.
pub const CONFIGURED_KEY_LABEL: &str = "configured key";

/// The message of the 403 a member key gets on an admin-only write.
pub const NEEDS_ADMIN: &str = "this needs an admin key (role admin)";

/// A tenant's API key as the request presented it: its tenant, role and
/// label. Extracting it answers as [`Tenant`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKey {
    /// The tenant the key belongs to.
    pub tenant: String,
    /// What the key may do.
    pub role: Role,
    /// The key's label (who or what uses it).
    pub label: String,
}

impl FromRequestParts<AppState> for TenantKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Tenant(key) => Ok(key),
            Caller::Admin => Err(ApiError::forbidden(
                "the admin key only moves the clock; use a tenant's API key",
            )),
        }
    }
}

/// The tenant of a key with role `admin`: what changing the automation
/// (pipelines, robots, triggers) and the directory needs. A `member` key
/// gets 403 `forbidden` ("this needs an admin key (role admin)") before
/// the body is read; otherwise it answers as [`Tenant`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTenant(pub String);

impl FromRequestParts<AppState> for AdminTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = TenantKey::from_request_parts(parts, state).await?;
        if key.role != Role::Admin {
            tracing::debug!(tenant = %key.tenant, label = %key.label, "admin-only write refused to a member key");
            return Err(ApiError::forbidden(NEEDS_ADMIN));
        }
        Ok(AdminTenant(key.tenant))
    }
}

/// Who is calling: a tenant (its API key) or the operator (the admin key,
/// which may move the manual clock of the local server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A tenant's API key.
    Tenant(TenantKey),
    /// The admin key.
    Admin,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(parts)?;
        match resolve(state, &KeyHash::of(key)).await? {
            Some(Caller::Tenant(key)) => {
                if let Some(throttle) = &state.throttle {
                    throttle
                        .check(&key.tenant)
                        .map_err(ApiError::too_many_requests)?;
                }
                if let Some(gate) = &state.write_gate
                    && crate::write_gate::is_write(&parts.method)
                {
                    gate.admit(&key.tenant).await;
                }
                Ok(Caller::Tenant(key))
            }
            Some(Caller::Admin) => Ok(Caller::Admin),
            None => Err(ApiError::unauthorized("unknown API key")),
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
            "_admin:key",
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
        assert!(ApiKeys::single("t", "").is_empty());
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
