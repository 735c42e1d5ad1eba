//! [`BatchReads`]: the store as one batch of runs sees it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::ports::{Doc, DocKey, DocStore, Kind, StoreError, Write};

/// The store as one batch of runs ([`Engine::run_jobs`]) sees it: the
/// settings that every run reads again — pipelines, users, departments — are
/// read from the store once per batch. Any other read, and every write, goes
/// to the store; a write of a cached document drops it from the cache. (A
/// setting changed while a batch runs is seen by the next batch, as if the
/// batch had started a moment earlier.)
pub(crate) struct BatchReads {
    store: Arc<dyn DocStore>,
    cache: Mutex<HashMap<DocKey, Option<Doc>>>,
}

impl BatchReads {
    fn cached(kind: Kind) -> bool {
        matches!(kind, Kind::Pipeline | Kind::User | Kind::Department)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<DocKey, Option<Doc>>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DocStore for BatchReads {
    async fn get(&self, key: &DocKey) -> std::result::Result<Option<Doc>, StoreError> {
        Ok(self
            .get_many(std::slice::from_ref(key))
            .await?
            .pop()
            .flatten())
    }

    async fn get_many(&self, keys: &[DocKey]) -> std::result::Result<Vec<Option<Doc>>, StoreError> {
        let mut out: Vec<Option<Option<Doc>>> = {
            let cache = self.cache();
            keys.iter()
                .map(|k| {
                    Self::cached(k.kind)
                        .then(|| cache.get(k).cloned())
                        .flatten()
                })
                .collect()
        };
        let missing: Vec<DocKey> = keys
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let mut got = self.store.get_many(&missing).await?.into_iter();
            let mut cache = self.cache();
            for (k, o) in keys.iter().zip(out.iter_mut()) {
                if o.is_none() {
                    let d = got.next().flatten();
                    if Self::cached(k.kind) {
                        cache.insert(k.clone(), d.clone());
                    }
                    *o = Some(d);
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    async fn list(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
    ) -> std::result::Result<Vec<Doc>, StoreError> {
        self.store.list(tenant, kind, parent).await
    }

    async fn list_page(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> std::result::Result<Vec<Doc>, StoreError> {
        self.store
            .list_page(tenant, kind, parent, after, limit)
            .await
    }

    async fn list_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
    ) -> std::result::Result<Vec<Doc>, StoreError> {
        self.store.list_prefix(tenant, kind, parent, prefix).await
    }

    async fn transact(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
        self.forget(&writes);
        self.store.transact(writes).await
    }

    fn group_limit(&self) -> usize {
        self.store.group_limit()
    }

    fn prefers_single_writes(&self) -> bool {
        self.store.prefers_single_writes()
    }

    async fn transact_group(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
        self.forget(&writes);
        self.store.transact_group(writes).await
    }
}

impl BatchReads {
    /// Drop what `writes` overwrite from the cache.
    fn forget(&self, writes: &[Write]) {
        let mut cache = self.cache();
        for w in writes {
            cache.remove(w.key());
        }
    }
}

impl BatchReads {
    /// A batch over `store`, with an empty cache.
    pub(crate) fn new(store: Arc<dyn DocStore>) -> Self {
        BatchReads {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ports::Cond;
    use crate::store::put;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::memory::MemStore;

    /// A store that counts the documents read from it.
    #[derive(Default)]
    struct Counting {
        store: MemStore,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl DocStore for Counting {
        async fn get(&self, key: &DocKey) -> std::result::Result<Option<Doc>, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.store.get(key).await
        }
        async fn list(
            &self,
            tenant: &str,
            kind: Kind,
            parent: &str,
        ) -> std::result::Result<Vec<Doc>, StoreError> {
            self.store.list(tenant, kind, parent).await
        }
        async fn transact(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
            self.store.transact(writes).await
        }
    }

    fn user(name: &str, version: u64) -> Doc {
        Doc {
            key: DocKey::new("t", Kind::User, "u1"),
            version,
            parent: None,
            expires_at: None,
            body: json!({ "name": name }),
        }
    }

    #[tokio::test]
    async fn a_batch_reads_settings_once_and_never_serves_what_it_overwrote() {
        let inner = Arc::new(Counting::default());
        inner
            .transact(vec![put(user("Anna", 1), Cond::Absent)])
            .await
            .unwrap();
        let batch = BatchReads {
            store: inner.clone(),
            cache: Mutex::new(HashMap::new()),
        };
        let key = DocKey::new("t", Kind::User, "u1");
        let item = DocKey::new("t", Kind::Item, "i1");
        for _ in 0..3 {
            let got = batch.get_many(&[key.clone(), item.clone()]).await.unwrap();
            assert_eq!(
                got[0].as_ref().map(|d| d.body["name"].clone()),
                Some(json!("Anna"))
            );
            assert_eq!(got[1], None);
        }
        // The user once; the item (not a setting) every time.
        assert_eq!(inner.reads.load(Ordering::Relaxed), 1 + 3);
        batch
            .transact(vec![put(user("Boris", 2), Cond::Version(1))])
            .await
            .unwrap();
        let got = batch.get(&key).await.unwrap().unwrap();
        assert_eq!((got.version, got.body["name"].clone()), (2, json!("Boris")));
    }
}
