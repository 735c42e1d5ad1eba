//! The tenant's tracking key: 256 random bits, made on the first tracked
//! email and kept as a document (`Kind::TrackingKey`, id [`KEY_ID`]) through
//! the store, like the webhook secret. It is never rotated (a sent email's
//! links must keep working), so a process keeps the keys it has read in
//! memory ([`TrackingState`]) and reads each tenant's key at most once.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::ports::{Cond, Doc, DocKey, Kind, Write};

/// The one key document's id.
pub const KEY_ID: &str = "tracking";
/// Most tenants' keys one process keeps in memory (the map is emptied when
/// it is full: a key is then read again).
const MAX_CACHED_KEYS: usize = 10_000;

/// The stored key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingKey {
    /// 32 bytes in hex.
    pub key: String,
    pub created_at: DateTime<Utc>,
}

/// What the engine keeps for tracking: the public base URL the links point
/// to (set once at start) and the tenants' keys read so far.
#[derive(Debug, Default)]
pub struct TrackingState {
    public_url: OnceLock<String>,
    keys: Mutex<HashMap<String, Vec<u8>>>,
}

impl TrackingState {
    fn cached(&self, tenant: &str) -> Option<Vec<u8>> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(tenant).cloned()
    }

    fn remember(&self, tenant: &str, key: Vec<u8>) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(tenant.to_string(), key);
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    s.len()
        .is_multiple_of(2)
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

impl Engine {
    /// Set the public base URL of the tracking links (`CRM_PUBLIC_URL`, or
    /// the local server's own address), without a trailing `/`. Only the
    /// first call counts; without one, emails are not tracked.
    pub fn set_public_url(&self, url: &str) {
        let url = url.trim().trim_end_matches('/');
        if !url.is_empty() {
            let _ = self.tracking.public_url.set(url.to_string());
        }
    }

    /// The public base URL, if set.
    pub fn public_url(&self) -> Option<&str> {
        self.tracking.public_url.get().map(String::as_str)
    }

    /// The tenant's tracking key; made (and stored) when the tenant has none
    /// and `create` is set. Two first uses at once agree: the loser of the
    /// conditional put reads the winner's key.
    pub async fn tracking_key(&self, tenant: &str, create: bool) -> Result<Option<Vec<u8>>> {
        if let Some(k) = self.tracking.cached(tenant) {
            return Ok(Some(k));
        }
        for _ in 0..2 {
            if let Some((k, _)) = self
                .load_kind::<TrackingKey>(tenant, Kind::TrackingKey, KEY_ID)
                .await?
            {
                let bytes = decode_hex(&k.key).ok_or_else(|| {
                    EngineError::Corrupt(format!("tracking key of tenant '{tenant}'"))
                })?;
                self.tracking.remember(tenant, bytes.clone());
                return Ok(Some(bytes));
            }
            if !create {
                return Ok(None);
            }
            let key = TrackingKey {
                key: format!(
                    "{:032x}{:032x}",
                    rand::random::<u128>(),
                    rand::random::<u128>()
                ),
                created_at: self.now(),
            };
            let put = Write::Put {
                doc: Doc {
                    key: DocKey::new(tenant, Kind::TrackingKey, KEY_ID),
                    version: 1,
                    parent: None,
                    expires_at: None,
                    body: serde_json::to_value(&key).expect("a key serializes"),
                },
                cond: Cond::Absent,
            };
            match self.commit(vec![put], String::new).await {
                Ok(()) | Err(EngineError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(EngineError::Conflict(format!(
            "the tracking key of tenant '{tenant}' was made and lost at the same time"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::decode_hex;

    #[test]
    fn hex_keys_decode() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
