//! [`MemApiKeys`]: the reference adapter of [`ApiKeyStore`], in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ApiKeyRecord, ApiKeyStore, KeyFilter, KeyHash, KeyStoreError, sort_for_list};

/// API keys in a map, by hash. For tests and the in-memory runtime.
#[derive(Debug, Default)]
pub struct MemApiKeys {
    keys: Mutex<HashMap<KeyHash, ApiKeyRecord>>,
}

impl MemApiKeys {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyHash, ApiKeyRecord>> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ApiKeyStore for MemApiKeys {
    async fn find(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, KeyStoreError> {
        Ok(self.lock().get(hash).cloned())
    }

    async fn add(&self, record: &ApiKeyRecord) -> Result<(), KeyStoreError> {
        let mut keys = self.lock();
        if keys.contains_key(&record.hash) {
            return Err(KeyStoreError::Duplicate("hash"));
        }
        if keys.values().any(|r| r.id == record.id) {
            return Err(KeyStoreError::Duplicate("id"));
        }
        keys.insert(record.hash, record.clone());
        Ok(())
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<ApiKeyRecord>, KeyStoreError> {
        let mut out: Vec<_> = self
            .lock()
            .values()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect();
        sort_for_list(&mut out);
        Ok(out)
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<ApiKeyRecord, KeyStoreError> {
        let mut keys = self.lock();
        let record = keys
            .values_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| KeyStoreError::NotFound(id.to_string()))?;
        record.revoked_at.get_or_insert(at);
        Ok(record.clone())
    }
}
