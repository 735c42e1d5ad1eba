//! Writing the aggregates exactly: in the same store transaction as the
//! change they count.
//!
//! [`commit`] adds, to a transaction, one conditional put per aggregate
//! document it changes (read, add the delta, put with "still at the version
//! read"). The change and its counts commit together or not at all, so:
//! - a repeated message or stream record, or a retried transaction, cannot
//!   count twice: the change's own condition (the run record's version, the
//!   outbox record still being there) fails, and the counts with it;
//! - a crash cannot lose a count: nothing is counted unless the change is.
//!
//! When only an aggregate document moved meanwhile (another item of the
//! same stage, day and shard), the documents are read again and the
//! transaction retried, here, so that callers see the conflicts of their own
//! writes only.
//!
//! [`TallyStore`] wraps the engine's store so that every transaction that
//! makes a robot run final carries its counts, whichever flow writes it.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::aggregate::{Aggregate, Deltas};
use super::tally::run_deltas;
use crate::hooked_store::{HookedStore, TransactHook};
use crate::ports::{Cond, Doc, DocKey, DocStore, Kind, StoreError, Write};

/// Attempts of a transaction whose aggregate documents keep moving.
pub const COMMIT_ATTEMPTS: u32 = 16;

/// Aggregate writes a transaction may carry on top of its own (callers that
/// fill transactions to the limit keep this much room).
pub fn aggregate_writes(writes: &[Write]) -> usize {
    run_deltas(writes).0.len()
}

fn already_tallied(writes: &[Write]) -> bool {
    writes.iter().any(|w| w.key().kind == Kind::Report)
}

fn versions(docs: &[Option<Doc>]) -> Vec<Option<u64>> {
    docs.iter().map(|d| d.as_ref().map(|d| d.version)).collect()
}

fn aggregate_put(key: &DocKey, current: Option<&Doc>, delta: &Aggregate) -> Write {
    let (mut agg, version) = match current {
        // A document that does not read as an aggregate is replaced (it can
        // only be one written by a future version; counting on is better
        // than stopping the flow that writes it).
        Some(d) => (
            serde_json::from_value::<Aggregate>(d.body.clone()).unwrap_or_default(),
            d.version,
        ),
        None => (Aggregate::default(), 0),
    };
    agg.merge(delta);
    Write::Put {
        doc: Doc {
            key: key.clone(),
            version: version + 1,
            parent: None,
            expires_at: None,
            body: serde_json::to_value(&agg).unwrap_or(Value::Null),
        },
        cond: if version == 0 {
            Cond::Absent
        } else {
            Cond::Version(version)
        },
    }
}

/// Commit `writes` with the counts of the robot runs they make final and
/// `extra` (an item change's), in one transaction.
pub async fn commit(
    store: &dyn DocStore,
    writes: Vec<Write>,
    extra: Deltas,
) -> Result<(), StoreError> {
    commit_as(store, writes, extra, false).await
}

/// [`commit`] as one transaction (`group` false) or one group commit
/// ([`DocStore::transact_group`]).
async fn commit_as(
    store: &dyn DocStore,
    writes: Vec<Write>,
    extra: Deltas,
    group: bool,
) -> Result<(), StoreError> {
    let transact = |all: Vec<Write>| async move {
        if group {
            store.transact_group(all).await
        } else {
            store.transact(all).await
        }
    };
    let mut deltas = extra;
    if !already_tallied(&writes) {
        deltas.extend(run_deltas(&writes));
    }
    let deltas = deltas.without_empty();
    if deltas.is_empty() {
        return transact(writes).await;
    }
    let keys: Vec<DocKey> = deltas.0.keys().cloned().collect();
    let mut current = store.get_many(&keys).await?;
    for _ in 0..COMMIT_ATTEMPTS {
        let mut all = writes.clone();
        for ((key, delta), cur) in deltas.0.iter().zip(&current) {
            all.push(aggregate_put(key, cur.as_ref(), delta));
        }
        match transact(all).await {
            Err(StoreError::Conflict { key }) => {
                let again = store.get_many(&keys).await?;
                if versions(&again) == versions(&current) {
                    // The aggregates did not move: a condition of the
                    // caller's own writes failed.
                    return Err(StoreError::Conflict { key });
                }
                current = again;
            }
            done => return done,
        }
    }
    Err(StoreError::Unavailable(
        "report aggregates kept changing; try again".into(),
    ))
}

/// Adds, to every transaction, the counts of the runs it makes final.
pub struct Tally;

#[async_trait]
impl TransactHook for Tally {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError> {
        commit(inner, writes, Deltas::default()).await
    }
    fn groups(&self) -> bool {
        true
    }
    async fn transact_group(
        &self,
        inner: &dyn DocStore,
        writes: Vec<Write>,
    ) -> Result<(), StoreError> {
        commit_as(inner, writes, Deltas::default(), true).await
    }
}

/// The engine's store with [`commit`] on every transaction.
pub type TallyStore = HookedStore<Tally>;

/// The engine's store `inner`, counting.
pub fn tally_store(inner: Arc<dyn DocStore>) -> TallyStore {
    HookedStore::new(inner, Tally)
}
