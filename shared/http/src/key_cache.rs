//! [`CachedKeys`]: lookups of presented keys in an [`ApiKeyStore`] through a
//! short in-process cache, so that a warm Lambda (or the local server) does
//! not read the store on every request.
//!
//! Both answers are cached for [`KeyCacheConfig::ttl`]: a known key (its
//! tenant) and an unknown or revoked one (so that a client retrying with a
//! wrong key does not cost a read per request). Consequence: **a revocation
//! takes effect within the TTL** (30 s by default) in every process that
//! cached the key. A store failure is not cached: the request is answered
//! 503 and the next one tries again.
//!
//! The cache holds at most [`KeyCacheConfig::capacity`] entries. Entries
//! are dropped in the order they were added, which (one TTL for all) is also
//! the order they expire: expired entries go first, and when the cache is
//! full of live ones the oldest goes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crm_core::api_keys::{ADMIN_TENANT, ApiKeyRecord, ApiKeyStore, KeyHash, KeyStoreError};

use crate::auth::Caller;
use crate::ticker::{SystemTicker, Ticker};

/// How long answers are kept and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCacheConfig {
    /// How long an answer (known or unknown key) is reused; also the longest
    /// time a revoked key keeps working.
    pub ttl: Duration,
    /// Most entries kept.
    pub capacity: usize,
}

impl Default for KeyCacheConfig {
    /// 30 s, 10,000 entries (about 1 MB).
    fn default() -> Self {
        KeyCacheConfig {
            ttl: Duration::from_secs(30),
            capacity: 10_000,
        }
    }
}

/// A cached answer.
#[derive(Debug, Clone)]
struct Entry {
    caller: Option<Caller>,
    expires: Duration,
}

#[derive(Debug, Default)]
struct Entries {
    by_hash: HashMap<KeyHash, Entry>,
    /// (hash, expiry) in insertion order; an item whose expiry differs from
    /// the map's entry is stale (the hash was cached again since).
    order: VecDeque<(KeyHash, Duration)>,
}

impl Entries {
    fn get(&self, hash: &KeyHash, now: Duration) -> Option<Option<Caller>> {
        self.by_hash
            .get(hash)
            .filter(|e| e.expires > now)
            .map(|e| e.caller.clone())
    }

    fn insert(
        &mut self,
        hash: KeyHash,
        caller: Option<Caller>,
        now: Duration,
        config: KeyCacheConfig,
    ) {
        let capacity = config.capacity.max(1);
        while let Some(&(old, expires)) = self.order.front() {
            let stale_or_expired = expires <= now
                || self.by_hash.len() >= capacity
                || self.by_hash.get(&old).is_none_or(|e| e.expires != expires);
            if !stale_or_expired && self.order.len() <= 2 * capacity {
                break;
            }
            self.order.pop_front();
            if self.by_hash.get(&old).is_some_and(|e| e.expires == expires) {
                self.by_hash.remove(&old);
            }
        }
        let expires = now + config.ttl;
        self.by_hash.insert(hash, Entry { caller, expires });
        self.order.push_back((hash, expires));
    }
}

/// An [`ApiKeyStore`] behind a TTL cache; see the module documentation.
pub struct CachedKeys {
    store: Arc<dyn ApiKeyStore>,
    config: KeyCacheConfig,
    ticker: Arc<dyn Ticker>,
    entries: Mutex<Entries>,
}

impl std::fmt::Debug for CachedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedKeys")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CachedKeys {
    /// `store` behind a cache configured by `config`, on real time.
    pub fn new(store: Arc<dyn ApiKeyStore>, config: KeyCacheConfig) -> Self {
        Self::with_ticker(store, config, Arc::new(SystemTicker::new()))
    }

    /// The same on injected time (tests).
    pub fn with_ticker(
        store: Arc<dyn ApiKeyStore>,
        config: KeyCacheConfig,
        ticker: Arc<dyn Ticker>,
    ) -> Self {
        CachedKeys {
            store,
            config,
            ticker,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Who holds the key with this hash: a tenant, the admin, or nobody
    /// (unknown or revoked). Reads the store at most once per TTL per hash.
    pub async fn lookup(&self, hash: &KeyHash) -> Result<Option<Caller>, KeyStoreError> {
        if let Some(cached) = self.lock().get(hash, self.ticker.elapsed()) {
            return Ok(cached);
        }
        let caller = self
            .store
            .find(hash)
            .await?
            .filter(ApiKeyRecord::is_active)
            .map(|r| caller_of(&r));
        self.lock()
            .insert(*hash, caller.clone(), self.ticker.elapsed(), self.config);
        Ok(caller)
    }

    /// Number of cached answers (live or not yet dropped).
    pub fn len(&self) -> usize {
        self.lock().by_hash.len()
    }

    /// Nothing cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The caller a stored key names.
fn caller_of(record: &ApiKeyRecord) -> Caller {
    if record.tenant == ADMIN_TENANT {
        Caller::Admin
    } else {
        Caller::Tenant(crate::auth::TenantKey {
            tenant: record.tenant.clone(),
            role: record.role,
            label: record.label.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use crm_core::api_keys::{KeyFilter, MemApiKeys, NewKey};

    use super::*;
    use crate::ticker::ManualTicker;

    /// Counts the reads that reach the store.
    #[derive(Default)]
    struct Counting {
        inner: MemApiKeys,
        finds: AtomicUsize,
    }

    #[async_trait]
    impl ApiKeyStore for Counting {
        async fn find(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, KeyStoreError> {
            self.finds.fetch_add(1, Ordering::SeqCst);
            self.inner.find(hash).await
        }
        async fn add(&self, record: &ApiKeyRecord) -> Result<(), KeyStoreError> {
            self.inner.add(record).await
        }
        async fn list(&self, filter: &KeyFilter) -> Result<Vec<ApiKeyRecord>, KeyStoreError> {
            self.inner.list(filter).await
        }
        async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<ApiKeyRecord, KeyStoreError> {
            self.inner.revoke(id, at).await
        }
    }

    fn cache(capacity: usize) -> (Arc<Counting>, Arc<ManualTicker>, CachedKeys) {
        let store = Arc::new(Counting::default());
        let ticker = Arc::new(ManualTicker::new());
        let config = KeyCacheConfig {
            ttl: Duration::from_secs(30),
            capacity,
        };
        let cached = CachedKeys::with_ticker(store.clone(), config, ticker.clone());
        (store, ticker, cached)
    }

    #[tokio::test]
    async fn known_and_unknown_keys_are_read_once_per_ttl() {
        let (store, ticker, cached) = cache(100);
        let key = NewKey::generate("acme", "ci", Utc::now())
            .unwrap()
            .with_role(crm_core::api_keys::Role::Member);
        store.add(&key.record).await.unwrap();
        let unknown = KeyHash::of("nope");
        for _ in 0..5 {
            assert_eq!(
                cached.lookup(&key.record.hash).await.unwrap(),
                Some(Caller::Tenant(crate::auth::TenantKey {
                    tenant: "acme".into(),
                    role: crm_core::api_keys::Role::Member,
                    label: "ci".into(),
                }))
            );
            assert_eq!(cached.lookup(&unknown).await.unwrap(), None);
        }
        assert_eq!(store.finds.load(Ordering::SeqCst), 2);
        ticker.advance(Duration::from_secs(30));
        cached.lookup(&key.record.hash).await.unwrap();
        assert_eq!(
            store.finds.load(Ordering::SeqCst),
            3,
            "read again after the TTL"
        );
    }

    #[tokio::test]
    async fn a_revoked_key_stops_working_within_the_ttl() {
        let (store, ticker, cached) = cache(100);
        let key = NewKey::generate("acme", "ci", Utc::now()).unwrap();
        store.add(&key.record).await.unwrap();
        assert!(cached.lookup(&key.record.hash).await.unwrap().is_some());
        store.revoke(&key.record.id, Utc::now()).await.unwrap();
        ticker.advance(Duration::from_secs(29));
        assert!(
            cached.lookup(&key.record.hash).await.unwrap().is_some(),
            "cached"
        );
        ticker.advance(Duration::from_secs(1));
        assert_eq!(cached.lookup(&key.record.hash).await.unwrap(), None);
    }

    #[tokio::test]
    async fn admin_keys_name_the_admin() {
        let (store, _ticker, cached) = cache(100);
        let key = NewKey::generate(ADMIN_TENANT, "admin", Utc::now()).unwrap();
        store.add(&key.record).await.unwrap();
        assert_eq!(
            cached.lookup(&key.record.hash).await.unwrap(),
            Some(Caller::Admin)
        );
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let (_store, ticker, cached) = cache(50);
        for n in 0..1_000 {
            cached.lookup(&KeyHash::of(&format!("k{n}"))).await.unwrap();
            if n % 100 == 0 {
                ticker.advance(Duration::from_secs(1));
            }
        }
        assert!(cached.len() <= 50, "{}", cached.len());
        assert!(
            cached.lock().order.len() <= 101,
            "{}",
            cached.lock().order.len()
        );
    }
}
