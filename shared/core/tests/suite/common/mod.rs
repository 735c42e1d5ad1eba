//! Helpers of the scenario tests over the standard company of
//! `crm_core::testing`.
#![allow(dead_code)]

pub mod run_reads;

use crm_core::api::{RobotBody, TriggerBody};
use crm_core::memory::MemRuntime;
use crm_core::model::{Item, RunRecord};
use crm_core::robots::Robot;
#[allow(unused_imports)] // not every test file uses all of them
pub use crm_core::testing::{MONDAY_1144_MSK, TENANT as T, at, body};
use crm_core::triggers::Trigger;
use serde_json::{Value, json};

/// The engine on in-memory ports at `start` with the standard company
/// (`crm_core::testing`) loaded into [`T`].
pub async fn company(start: &str) -> MemRuntime {
    crm_core::testing::company_runtime(start).await
}

pub async fn robot(rt: &MemRuntime, v: Value) -> Robot {
    rt.engine
        .create_robot(T, "deals", body::<RobotBody>(v))
        .await
        .unwrap()
}

pub async fn trigger(rt: &MemRuntime, v: Value) -> Trigger {
    rt.engine
        .create_trigger(T, "deals", body::<TriggerBody>(v))
        .await
        .unwrap()
}

pub async fn deal(rt: &MemRuntime, stage: &str, amount: f64) -> Item {
    crm_core::testing::settled_item(rt, crm_core::testing::deal(stage, amount)).await
}

pub async fn move_to(rt: &MemRuntime, item: &str, stage: &str) {
    rt.engine
        .patch_item(T, item, body(json!({"stage_id": stage})), None)
        .await
        .unwrap();
    rt.settle().await.unwrap();
}

pub async fn runs(rt: &MemRuntime, item: &str) -> Vec<RunRecord> {
    rt.engine.runs(T, item).await.unwrap()
}

pub fn run_of<'a>(runs: &'a [RunRecord], robot_id: &str) -> &'a RunRecord {
    runs.iter()
        .rfind(|r| r.robot_id.as_deref() == Some(robot_id))
        .unwrap_or_else(|| panic!("no run of {robot_id} in {runs:#?}"))
}

/// A robot of `new` that waits for the previous one and comments `text`.
pub fn follower(text: &str) -> Value {
    json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
        "settings": {"text": text}})
}

/// The texts of the item's timeline comments, oldest first.
pub async fn comments(rt: &MemRuntime, item: &str) -> Vec<String> {
    rt.engine
        .timeline(T, item)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "comment")
        .map(|e| e.text)
        .collect()
}

/// A plain deal "Website" in `new`, its robots settled.
pub async fn new_deal(rt: &MemRuntime) -> Item {
    crm_core::testing::settled_item(rt, crm_core::testing::plain_deal("Website")).await
}

/// The run id of `robot` in the item's first visit.
pub fn run_id(item: &Item, robot: &Robot) -> String {
    crm_core::planning::run_id(&item.id, 1, &robot.id)
}

/// The runtime's engine with `store` in place of its store (the other ports
/// shared) and `config`: a test watches or disturbs what the engine reads
/// and writes through a store of its own.
pub fn engine_on(
    rt: &MemRuntime,
    store: std::sync::Arc<dyn crm_core::ports::DocStore>,
    config: crm_core::EngineConfig,
) -> crm_core::Engine {
    crm_core::Engine::new(
        crm_core::ports::Ports {
            store,
            ..rt.engine.ports().clone()
        },
        config,
    )
}

/// How many of a robot's runs its index of pending runs lists.
pub async fn pending_index(rt: &MemRuntime, robot_id: &str) -> usize {
    use crm_core::ports::{DocStore, Kind};
    rt.store
        .list(T, Kind::PendingRun, robot_id)
        .await
        .unwrap()
        .len()
}
