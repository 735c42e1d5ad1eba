//! A document store that passes every read to an inner store and hands
//! every transaction to a hook: how the engine adds the reports' counts to
//! its transactions ([`crate::reports::TallyStore`]) and how tests watch or
//! disturb commits, without re-forwarding each read method.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ports::{Doc, DocKey, DocStore, Kind, StoreError, Write};

/// What happens to a transaction: usually something around
/// `inner.transact(writes)`.
#[async_trait]
pub trait TransactHook: Send + Sync {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Does the hook take group commits ([`TransactHook::transact_group`])?
    /// If not, the hooked store offers none (its group limit is that of a
    /// transaction, and a group goes through [`TransactHook::transact`]).
    fn groups(&self) -> bool {
        false
    }
    /// A group commit ([`DocStore::transact_group`]) through the hook.
    async fn transact_group(
        &self,
        inner: &dyn DocStore,
        writes: Vec<Write>,
    ) -> Result<(), StoreError> {
        self.transact(inner, writes).await
    }
}

/// `inner` for reads (every method, paging included), `hook` for writes.
pub struct HookedStore<H> {
    inner: Arc<dyn DocStore>,
    hook: H,
}

impl<H: TransactHook> HookedStore<H> {
    pub fn new(inner: Arc<dyn DocStore>, hook: H) -> Self {
        HookedStore { inner, hook }
    }

    /// The hook (tests read what it saw).
    pub fn hook(&self) -> &H {
        &self.hook
    }
}

#[async_trait]
impl<H: TransactHook> DocStore for HookedStore<H> {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn get_many_settled(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.inner.get_many_settled(keys).await
    }
    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
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
        self.inner
            .list_page(tenant, kind, parent, after, limit)
            .await
    }
    async fn list_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        self.inner.list_prefix(tenant, kind, parent, prefix).await
    }
    async fn count_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
        max: usize,
    ) -> Result<usize, StoreError> {
        self.inner
            .count_prefix(tenant, kind, parent, prefix, max)
            .await
    }
    async fn purge_expired(&self, now_epoch_secs: i64, limit: usize) -> Result<usize, StoreError> {
        self.inner.purge_expired(now_epoch_secs, limit).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.hook.transact(&*self.inner, writes).await
    }
    fn prefers_single_writes(&self) -> bool {
        self.inner.prefers_single_writes()
    }
    fn group_limit(&self) -> usize {
        if self.hook.groups() {
            self.inner.group_limit()
        } else {
            crate::ports::MAX_TRANSACTION_WRITES
        }
    }
    async fn transact_group(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if self.hook.groups() {
            self.hook.transact_group(&*self.inner, writes).await
        } else {
            self.hook.transact(&*self.inner, writes).await
        }
    }
}
