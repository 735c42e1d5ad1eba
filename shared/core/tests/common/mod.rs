//! Shared fixture for the scenario tests: the seeds' company and pipeline.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use crm_core::api::{DepartmentBody, NewItem, PipelineBody, RobotBody, TriggerBody, UserBody};
use crm_core::memory::MemRuntime;
use crm_core::model::{Item, RunRecord};
use crm_core::robots::Robot;
use crm_core::triggers::Trigger;
use serde_json::{Value, json};

pub const T: &str = "acme";

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn body<B: serde::de::DeserializeOwned>(v: Value) -> B {
    serde_json::from_value(v).unwrap()
}

/// Monday 2026-11-23 11:44 in Moscow (08:44 UTC).
pub const MONDAY_1144_MSK: &str = "2026-11-23T08:44:00Z";

pub async fn company(start: &str) -> MemRuntime {
    let rt = MemRuntime::new(at(start));
    let e = &rt.engine;
    // Heads first (departments name them), then the departments, then members.
    for (id, name, email) in [
        ("u-boss", "Boris Head", "boss@acme.test"),
        ("u-dina", "Dina Designer", "dina@acme.test"),
        ("u-lara", "Lara Lawyer", "lara@acme.test"),
    ] {
        e.put_user(
            T,
            id,
            body::<UserBody>(
                json!({"name": name, "email": email, "phone": "+7 900 000-00-01",
                "time_zone": "Europe/Moscow"}),
            ),
        )
        .await
        .unwrap();
    }
    e.put_department(
        T,
        "sales",
        body::<DepartmentBody>(json!({"name": "Sales", "head_id": "u-boss"})),
    )
    .await
    .unwrap();
    e.put_department(
        T,
        "design",
        body::<DepartmentBody>(json!({"name": "Design", "head_id": "u-dina"})),
    )
    .await
    .unwrap();
    for (id, name, dept) in [
        ("u-anna", "Anna Sales", "sales"),
        ("u-dina", "Dina Designer", "design"),
        ("u-dan", "Dan Designer", "design"),
    ] {
        e.put_user(
            T,
            id,
            body::<UserBody>(json!({"name": name, "email": format!("{id}@acme.test"),
                "phone": "+7 900 000-00-02", "department_id": dept, "time_zone": "Europe/Moscow"})),
        )
        .await
        .unwrap();
    }
    e.put_pipeline(
        T,
        "deals",
        body::<PipelineBody>(json!({
            "entity_type": "deal", "name": "Sales",
            "stages": [
                {"id": "new", "name": "New orders", "semantic": "process"},
                {"id": "prep", "name": "Project preparation", "semantic": "process"},
                {"id": "presentation", "name": "Client presentation", "semantic": "process"},
                {"id": "won", "name": "Won", "semantic": "success"},
                {"id": "lost", "name": "Lost", "semantic": "failure"}
            ],
            "fields": [
                {"key": "budget", "type": "number"},
                {"key": "meeting_at", "type": "datetime"},
                {"key": "source", "type": "string"}
            ]
        })),
    )
    .await
    .unwrap();
    rt
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
    let item = rt
        .engine
        .create_item(
            T,
            body::<NewItem>(json!({"pipeline_id": "deals", "stage_id": stage, "title": "Website for Romashka",
                "amount": amount, "currency": "RUB", "responsible_id": "u-anna",
                "client": {"name": "Romashka LLC", "phone": "+7 (495) 123-45-67", "email": "buyer@romashka.test"}})),
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    item
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
