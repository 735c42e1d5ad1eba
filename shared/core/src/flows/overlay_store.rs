//! [`OverlayStore`]: the store as the runs of one visit job see it while
//! their writes are still being decided.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::ports::{Doc, DocKey, DocStore, Kind, StoreError, Write};

/// A read-only view of a store plus the writes decided so far (issue #11,
/// visit jobs: [`crate::Engine::run_visit_job`]).
///
/// - Reads ([`DocStore::get`], [`DocStore::get_many`]) return the document
///   as the applied writes leave it (a put: the new document with its new
///   version; a delete: gone), else as first read from the inner store — a
///   document is read from the inner store once, then served from memory,
///   so the second run of a visit does not read the item, its timeline
///   counter, the pipeline, the responsible or the robot again. Every
///   conditional write composed from these reads is checked by the commit,
///   so a document read once and changed meanwhile fails the commit.
/// - [`DocStore::list`] reads the inner store and lays the applied writes of
///   that list over it (puts under the parent added or replaced, deletes and
///   puts under another parent removed).
/// - The runs' decided writes are not written here: they are applied with
///   [`OverlayStore::apply`] and committed by the caller, composed, through
///   the real store. A write a decision makes on its own, as it would on
///   the one-run path (a tenant's email tracking key made on first use),
///   goes to the inner store at once ([`DocStore::transact`]) and, once
///   committed, is seen by the later reads.
pub(crate) struct OverlayStore {
    inner: Arc<dyn DocStore>,
    state: Mutex<Overlay>,
}

#[derive(Default)]
struct Overlay {
    /// Documents known: read from the inner store or written (None: absent).
    known: HashMap<DocKey, Option<Doc>>,
    /// Keys written by [`OverlayStore::apply`] (for `list`).
    written: HashSet<DocKey>,
}

impl Overlay {
    /// Know the document as `w` leaves it; `false` for a check (no change).
    fn learn(&mut self, w: &Write) -> bool {
        let doc = match w {
            Write::Put { doc, .. } => Some(doc.clone()),
            Write::Delete { .. } => None,
            Write::Check { .. } => return false,
        };
        self.known.insert(w.key().clone(), doc);
        true
    }
}

impl OverlayStore {
    /// A view of `inner` with nothing applied.
    pub(crate) fn new(inner: Arc<dyn DocStore>) -> Self {
        OverlayStore {
            inner,
            state: Mutex::new(Overlay::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Overlay> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remember documents read elsewhere (`docs[i]` is the document at
    /// `keys[i]`), so that they are not read again.
    pub(crate) fn seed(&self, keys: &[DocKey], docs: &[Option<Doc>]) {
        let mut st = self.state();
        for (k, d) in keys.iter().zip(docs) {
            st.known.entry(k.clone()).or_insert_with(|| d.clone());
        }
    }

    /// Apply decided writes: later reads see them. Conditions are not
    /// checked here (the commit checks them).
    pub(crate) fn apply(&self, writes: &[Write]) {
        let mut st = self.state();
        for w in writes {
            if st.learn(w) {
                st.written.insert(w.key().clone());
            }
        }
    }

    /// `listed` (the inner store's documents of a list, or of its ids
    /// starting with `prefix`) with the applied writes laid over it.
    fn laid_over(
        &self,
        listed: Vec<Doc>,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
    ) -> Vec<Doc> {
        let st = self.state();
        let mut by_id: BTreeMap<String, Doc> = listed
            .into_iter()
            .filter(|d| !st.written.contains(&d.key))
            .map(|d| (d.key.id.clone(), d))
            .collect();
        for key in &st.written {
            if key.tenant != tenant || key.kind != kind || !key.id.starts_with(prefix) {
                continue;
            }
            if let Some(Some(doc)) = st.known.get(key)
                && doc.parent.as_deref() == Some(parent)
            {
                by_id.insert(key.id.clone(), doc.clone());
            }
        }
        by_id.into_values().collect()
    }

    /// Known documents from memory, the others from the inner store
    /// (`settled`: through [`DocStore::get_many_settled`]), then known.
    async fn read(&self, keys: &[DocKey], settled: bool) -> Result<Vec<Option<Doc>>, StoreError> {
        let mut out: Vec<Option<Option<Doc>>> = {
            let st = self.state();
            keys.iter().map(|k| st.known.get(k).cloned()).collect()
        };
        let missing: Vec<DocKey> = keys
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let got = if settled {
                self.inner.get_many_settled(&missing).await?
            } else {
                self.inner.get_many(&missing).await?
            };
            self.seed(&missing, &got);
            let st = self.state();
            for (k, o) in keys.iter().zip(out.iter_mut()) {
                if o.is_none() {
                    *o = Some(st.known.get(k).cloned().flatten());
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }
}

#[async_trait]
impl DocStore for OverlayStore {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        Ok(self
            .get_many(std::slice::from_ref(key))
            .await?
            .pop()
            .flatten())
    }

    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.read(keys, false).await
    }

    async fn get_many_settled(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.read(keys, true).await
    }

    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        let listed = self.inner.list(tenant, kind, parent).await?;
        Ok(self.laid_over(listed, tenant, kind, parent, ""))
    }

    async fn list_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        let listed = self.inner.list_prefix(tenant, kind, parent, prefix).await?;
        Ok(self.laid_over(listed, tenant, kind, parent, prefix))
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        // Conditions are checked by the store against what it holds; a key
        // a decided (not yet committed) write changed would be checked
        // against the committed state: refuse those.
        {
            let st = self.state();
            if let Some(w) = writes.iter().find(|w| st.written.contains(w.key())) {
                return Err(StoreError::Invalid(format!(
                    "{} has uncommitted changes of an earlier run of the job",
                    w.key()
                )));
            }
        }
        self.inner.transact(writes.clone()).await?;
        let mut st = self.state();
        for w in &writes {
            st.learn(w);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::memory::MemStore;
    use crate::ports::Cond;
    use crate::store::put;

    fn doc(kind: Kind, id: &str, parent: Option<&str>, version: u64, v: i64) -> Doc {
        Doc {
            key: DocKey::new("t", kind, id),
            version,
            parent: parent.map(str::to_string),
            expires_at: None,
            body: json!({ "v": v }),
        }
    }

    #[tokio::test]
    async fn reads_see_the_applied_writes_and_the_inner_store_is_untouched() {
        let inner = Arc::new(MemStore::new());
        inner
            .transact(vec![
                put(doc(Kind::Task, "a", Some("i1"), 1, 1), Cond::Absent),
                put(doc(Kind::Task, "b", Some("i1"), 1, 2), Cond::Absent),
                put(doc(Kind::Item, "i1", None, 3, 0), Cond::Absent),
            ])
            .await
            .unwrap();
        let o = OverlayStore::new(inner.clone());
        o.apply(&[
            put(doc(Kind::Task, "a", Some("i1"), 2, 10), Cond::Version(1)),
            Write::Delete {
                key: DocKey::new("t", Kind::Task, "b"),
                parent: Some("i1".into()),
                cond: Cond::Any,
            },
            put(doc(Kind::Task, "c", Some("i1"), 1, 30), Cond::Absent),
            put(doc(Kind::Task, "d", Some("other"), 1, 40), Cond::Absent),
            Write::Check {
                key: DocKey::new("t", Kind::Item, "i1"),
                cond: Cond::Version(3),
            },
        ]);
        let got = o
            .get_many(&[
                DocKey::new("t", Kind::Task, "a"),
                DocKey::new("t", Kind::Task, "b"),
                DocKey::new("t", Kind::Item, "i1"),
            ])
            .await
            .unwrap();
        assert_eq!(got[0].as_ref().map(|d| d.version), Some(2));
        assert_eq!(got[1], None, "deleted");
        assert_eq!(got[2].as_ref().map(|d| d.version), Some(3), "read through");
        let listed: Vec<(String, i64)> = o
            .list("t", Kind::Task, "i1")
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.key.id, d.body["v"].as_i64().unwrap()))
            .collect();
        assert_eq!(listed, vec![("a".into(), 10), ("c".into(), 30)]);
        // Nothing applied reached the real store.
        assert_eq!(inner.list("t", Kind::Task, "i1").await.unwrap().len(), 2);
        // A write of its own goes to the store and is seen; one of a key
        // with applied (uncommitted) changes is refused.
        o.transact(vec![put(doc(Kind::Task, "e", None, 1, 50), Cond::Absent)])
            .await
            .unwrap();
        let e = DocKey::new("t", Kind::Task, "e");
        assert_eq!(inner.get(&e).await.unwrap().map(|d| d.version), Some(1));
        assert_eq!(o.get(&e).await.unwrap().map(|d| d.version), Some(1));
        let refused = o
            .transact(vec![put(doc(Kind::Task, "c", Some("i1"), 2, 0), Cond::Any)])
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
        assert_eq!(
            inner.get(&DocKey::new("t", Kind::Task, "c")).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_document_is_read_once_then_served_from_memory() {
        let inner = Arc::new(MemStore::new());
        let o = OverlayStore::new(inner.clone());
        let key = DocKey::new("t", Kind::Pipeline, "p1");
        assert_eq!(o.get(&key).await.unwrap(), None);
        inner
            .transact(vec![put(
                doc(Kind::Pipeline, "p1", None, 1, 1),
                Cond::Absent,
            )])
            .await
            .unwrap();
        // Read before it was written: the overlay keeps what it read (the
        // commit's conditions, not this read, guard what the runs change).
        assert_eq!(o.get(&key).await.unwrap(), None);
    }
}
