//! Custom robot types of applications (issue #14) on every store adapter
//! (memory, SQLite, DynamoDB on LocalStack): registered types are kept per
//! tenant, paged by code, replaced and deleted; a run of an `app.<code>`
//! robot keeps its wait under the tenant and its token lookup under
//! `_system` (found without a tenant), and the answer finishes it once.
//!
//! Each check builds an engine over the store under test
//! ([`crate::report_contract::Rig`]) in its own tenant.

use std::sync::Arc;

use crm_core::apps::event::{AppWait, RobotEventAnswer, token_hash};
use crm_core::apps::robot_type::RobotTypeBody;
use crm_core::engine::PageRequest;
use crm_core::error::EngineError;
use crm_core::model::RunStatus;
use crm_core::ports::DocStore;
use serde_json::{Value, json};

use crate::report_contract::Rig;

const START: &str = "2026-03-02T09:00:00Z";

/// Run every check against `store`, in tenants prefixed with `tenant`.
pub async fn run_all_apps(store: Arc<dyn DocStore>, tenant: &str) {
    eprintln!("contract: app robot types");
    robot_types_are_kept_per_tenant(store.clone(), tenant).await;
    eprintln!("contract: app robot events");
    an_answer_finds_its_run_by_token_once(store, tenant).await;
}

fn type_body(code: &str, timeout: u64) -> RobotTypeBody {
    serde_json::from_value(json!({
        "code": code, "name": format!("Type {code}"),
        "handler_url": "https://app.example.com/robot",
        "settings_schema": {"properties": {"note": {"type": "string"}}, "required": ["note"]},
        "return_schema": {"properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        "timeout_seconds": timeout
    }))
    .expect("body")
}

fn answer(v: Value) -> RobotEventAnswer {
    serde_json::from_value(v).expect("answer")
}

/// Types: created once per code, paged in code order, per tenant, replaced,
/// deleted.
pub async fn robot_types_are_kept_per_tenant(store: Arc<dyn DocStore>, prefix: &str) {
    let a = Rig::new(store.clone(), &format!("{prefix}-types-a"), START).await;
    let b = Rig::new(store, &format!("{prefix}-types-b"), START).await;
    let e = &a.engine;
    for code in ["c_three", "a_one", "b_two"] {
        e.create_robot_type(&a.tenant, type_body(code, 600))
            .await
            .expect("create");
    }
    assert!(matches!(
        e.create_robot_type(&a.tenant, type_body("a_one", 600))
            .await,
        Err(EngineError::Conflict(_))
    ));
    b.engine
        .create_robot_type(&b.tenant, type_body("z_other", 600))
        .await
        .expect("create in b");
    let p1 = e
        .robot_types_page(&a.tenant, &PageRequest::new(Some(2), None))
        .await
        .expect("page 1");
    let p2 = e
        .robot_types_page(
            &a.tenant,
            &PageRequest::new(Some(2), p1.next_cursor.clone()),
        )
        .await
        .expect("page 2");
    let codes: Vec<String> = p1
        .items
        .iter()
        .chain(&p2.items)
        .map(|t| t.code.clone())
        .collect();
    assert_eq!(codes, ["a_one", "b_two", "c_three"]);
    assert!(p2.next_cursor.is_none());
    assert!(matches!(
        e.get_robot_type(&a.tenant, "z_other").await,
        Err(EngineError::NotFound { .. })
    ));
    let changed = e
        .update_robot_type(&a.tenant, "b_two", type_body("b_two", 900))
        .await
        .expect("update");
    assert_eq!(changed.timeout_seconds, 900);
    assert_eq!(
        e.get_robot_type(&a.tenant, "b_two")
            .await
            .expect("get")
            .timeout_seconds,
        900
    );
    e.delete_robot_type(&a.tenant, "b_two")
        .await
        .expect("delete");
    let all = e.all_robot_types(&a.tenant).await.expect("all");
    let codes: Vec<&str> = all.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes, ["a_one", "c_three"]);
}

/// A run's wait: kept under the tenant by run id and under `_system` by the
/// token's hash (never the token); the answer finds it, finishes the run
/// once; a forged token is unknown.
pub async fn an_answer_finds_its_run_by_token_once(store: Arc<dyn DocStore>, prefix: &str) {
    let a = Rig::new(store.clone(), &format!("{prefix}-events"), START).await;
    let e = &a.engine;
    e.create_robot_type(&a.tenant, type_body("erp", 3600))
        .await
        .expect("type");
    let robot = a
        .robot(json!({"stage_id": "new", "type": "app.erp", "settings": {"note": "{{title}}"}}))
        .await;
    let item = a.create("Contract", "u-anna").await;
    a.settle().await;
    let call = a
        .http
        .calls()
        .last()
        .cloned()
        .expect("the handler was called");
    let sent: Value = serde_json::from_str(call.body.as_deref().unwrap_or("{}")).expect("JSON");
    assert_eq!(sent["settings"]["note"], "Contract");
    let token = sent["event_token"].as_str().expect("token").to_string();
    let run_id = crm_core::planning::run_id(&item.id, 1, &robot);
    let wait = store
        .get(&AppWait::key(&a.tenant, &run_id))
        .await
        .expect("get")
        .expect("the wait under the tenant");
    assert_eq!(wait.body["token_hash"], json!(token_hash(&token)));
    assert!(
        wait.expires_at.is_some(),
        "kept for a while after the deadline"
    );
    let lookup = store
        .get(&AppWait::token_key(&token_hash(&token)))
        .await
        .expect("get")
        .expect("the lookup under _system");
    assert_eq!(lookup.body["tenant"], json!(a.tenant));
    assert!(!lookup.body.to_string().contains(&token));

    assert!(matches!(
        e.answer_robot_event(
            &"0".repeat(64),
            answer(json!({"return_values": {"order_id": "x"}}))
        )
        .await,
        Err(EngineError::NotFound { .. })
    ));
    let done = e
        .answer_robot_event(
            &token,
            answer(json!({"return_values": {"order_id": "ERP-1"}})),
        )
        .await
        .expect("answer");
    assert_eq!(done.status, RunStatus::Done);
    assert!(matches!(
        e.answer_robot_event(
            &token,
            answer(json!({"return_values": {"order_id": "ERP-2"}}))
        )
        .await,
        Err(EngineError::Conflict(_))
    ));
    let runs = e.runs(&a.tenant, &item.id).await.expect("runs");
    let run = runs.iter().find(|r| r.id == run_id).expect("the run");
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.outputs["order_id"], json!("ERP-1"));
}
