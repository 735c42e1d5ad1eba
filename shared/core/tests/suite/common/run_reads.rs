//! A store that watches how the engine reads run records: whole lists,
//! pages, and the most run documents one read returned (issue #11: no
//! engine step or endpoint reads an item's whole run log).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use crm_core::Engine;
use crm_core::memory::MemRuntime;
use crm_core::ports::{Doc, DocKey, DocStore, Kind, StoreError, Write};

use super::engine_on;

/// Counts reads of run records through the store it wraps.
pub struct RunReads {
    inner: Arc<dyn DocStore>,
    /// `list` of runs: a whole run log.
    pub lists: AtomicUsize,
    /// `list_page` of runs.
    pub pages: AtomicUsize,
    /// Most run documents one `list_page` or `list_prefix` returned.
    pub largest: AtomicUsize,
}

impl RunReads {
    /// Whole lists and pages of runs, together.
    pub fn listings(&self) -> usize {
        self.lists.load(Ordering::SeqCst) + self.pages.load(Ordering::SeqCst)
    }

    fn saw(&self, kind: Kind, docs: &[Doc]) {
        if kind == Kind::Run {
            self.largest.fetch_max(docs.len(), Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl DocStore for RunReads {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        if kind == Kind::Run {
            self.lists.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.list(tenant, kind, parent).await
    }
    async fn list_page(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Doc>, StoreError> {
        if kind == Kind::Run {
            self.pages.fetch_add(1, Ordering::SeqCst);
        }
        let docs = self
            .inner
            .list_page(tenant, kind, parent, after, limit)
            .await?;
        self.saw(kind, &docs);
        Ok(docs)
    }
    async fn list_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        let docs = self.inner.list_prefix(tenant, kind, parent, prefix).await?;
        self.saw(kind, &docs);
        Ok(docs)
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
}

/// An engine on the runtime's store, watched.
pub fn watched(rt: &MemRuntime) -> (Engine, Arc<RunReads>) {
    let store = Arc::new(RunReads {
        inner: rt.engine.ports().store.clone(),
        lists: AtomicUsize::new(0),
        pages: AtomicUsize::new(0),
        largest: AtomicUsize::new(0),
    });
    let engine = engine_on(rt, store.clone(), rt.engine.config().clone());
    (engine, store)
}
