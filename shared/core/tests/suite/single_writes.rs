//! Planning on a store that bills transactions double
//! (`DocStore::prefers_single_writes`, DynamoDB; issue #11): each planned
//! run is its own write, so a run record alone costs half. The runs of a
//! visit then do not commit together: a planning that fails half way is
//! repeated, keeps what exists and adds the rest, each run once.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use crm_core::Engine;
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::{Doc, DocKey, DocStore, Kind, StoreError, Write};
use serde_json::json;

/// Prefers single writes, records every transaction, and fails the
/// `fail_at`-th one (1-based) as unavailable.
struct Single {
    inner: Arc<dyn DocStore>,
    seen: Mutex<Vec<Vec<Write>>>,
    fail_at: usize,
    n: AtomicUsize,
}

#[async_trait]
impl DocStore for Single {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        self.inner.list(tenant, kind, parent).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if self.n.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Err(StoreError::Unavailable("injected".into()));
        }
        self.seen.lock().unwrap().push(writes.clone());
        self.inner.transact(writes).await
    }
    fn prefers_single_writes(&self) -> bool {
        true
    }
}

async fn five_robots_and_a_deal() -> (MemRuntime, String) {
    let rt = company(MONDAY_1144_MSK).await;
    for i in 0..5 {
        robot(
            &rt,
            json!({"stage_id": "new", "type": "add_timeline_comment",
                "settings": {"text": format!("robot {i}")}}),
        )
        .await;
    }
    let item = rt
        .engine
        .create_item(T, body(crm_core::testing::plain_deal("A")))
        .await
        .unwrap();
    (rt, item.id)
}

fn on(rt: &MemRuntime, fail_at: usize) -> (Engine, Arc<Single>) {
    let store = Arc::new(Single {
        inner: rt.engine.ports().store.clone(),
        seen: Mutex::default(),
        fail_at,
        n: AtomicUsize::new(0),
    });
    let engine = engine_on(rt, store.clone(), rt.engine.config().clone());
    (engine, store)
}

fn run_puts(writes: &[Write]) -> usize {
    writes
        .iter()
        .filter(|w| matches!(w, Write::Put { doc, .. } if doc.key.kind == Kind::Run))
        .count()
}

#[tokio::test]
async fn each_planned_run_is_its_own_write() {
    let (rt, item) = five_robots_and_a_deal().await;
    let (engine, store) = on(&rt, 0);
    for d in engine.pending_outbox().await.unwrap() {
        engine.process_outbox(d).await.unwrap();
    }
    let seen = store.seen.lock().unwrap().clone();
    let planning: Vec<&Vec<Write>> = seen.iter().filter(|w| run_puts(w) > 0).collect();
    assert_eq!(planning.len(), 5, "{seen:#?}");
    assert!(planning.iter().all(|w| w.len() == 1), "a run record alone");
    rt.settle().await.unwrap();
    let runs = runs(&rt, &item).await;
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|r| r.status == RunStatus::Done), "{runs:?}");
    let mut got = comments(&rt, &item).await;
    got.sort();
    assert_eq!(got, ["robot 0", "robot 1", "robot 2", "robot 3", "robot 4"]);
}

#[tokio::test]
async fn a_planning_that_fails_half_way_is_repeated_and_plans_each_run_once() {
    let (rt, item) = five_robots_and_a_deal().await;
    // The item's outbox record: its processing writes the runs (the first
    // transactions), so the third write fails.
    let (engine, _) = on(&rt, 3);
    let pending = engine.pending_outbox().await.unwrap();
    assert!(engine.process_outbox(pending[0].clone()).await.is_err());
    let planned = runs(&rt, &item).await.len();
    assert!(
        (1..5).contains(&planned),
        "half way: {planned} runs planned"
    );
    // Delivered again (the outbox record is still there): the rest.
    rt.settle().await.unwrap();
    let runs = runs(&rt, &item).await;
    assert_eq!(runs.len(), 5, "{runs:?}");
    assert!(runs.iter().all(|r| r.status == RunStatus::Done), "{runs:?}");
    assert_eq!(comments(&rt, &item).await.len(), 5, "each robot once");
}
