//! The handler on realistic SQS events, against the engine on in-memory ports.

use super::*;
use crm_aws::lambda::near;
use crm_core::memory::MemRuntime;
use crm_core::model::{Item, RunKind};
use crm_core::testing::{
    MONDAY_1144_MSK, TENANT as T, body, company_runtime, plain_deal, settled_item,
};
use lambda_runtime::Context;
use serde_json::{Value, json};
use std::time::Duration;

/// The standard company (`crm_core::testing`) with a webhook trigger on
/// `won` (code `paid`), and one deal in `new`.
async fn runtime() -> (MemRuntime, Item) {
    let rt = company_runtime(MONDAY_1144_MSK).await;
    let e = &rt.engine;
    e.create_trigger(
        T,
        "deals",
        body(json!({"stage_id": "won", "type": "webhook", "settings": {"code": "paid"}})),
    )
    .await
    .unwrap();
    let item = settled_item(&rt, plain_deal("Website")).await;
    let item = e.get_item(T, &item.id).await.unwrap();
    (rt, item)
}

/// The queued event of a paid webhook for `item_id`, as JSON text.
fn paid(item_id: &str, event_id: &str) -> String {
    json!({"tenant": T, "event_id": event_id, "type": "webhook", "item_id": item_id,
        "data": {"code": "paid"}, "occurred_at": "2026-11-23T08:45:00Z"})
    .to_string()
}

/// An SQS record as Lambda delivers it.
fn message(id: &str, body: &str) -> Value {
    crm_aws::testing::sqs_record(id, body, "crm-events")
}

fn event(messages: Vec<Value>, context: Context) -> LambdaEvent<SqsEvent> {
    let payload: SqsEvent = serde_json::from_value(json!({ "Records": messages })).unwrap();
    LambdaEvent::new(payload, context)
}

fn failed(r: &SqsBatchResponse) -> Vec<&str> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

async fn trigger_runs(rt: &MemRuntime, item_id: &str) -> usize {
    rt.engine
        .runs(T, item_id)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.kind == RunKind::Trigger)
        .count()
}

#[tokio::test]
async fn a_duplicate_message_has_one_effect_and_a_malformed_one_is_reported() {
    let (rt, item) = runtime().await;
    let body = paid(&item.id, "evt-1");

    let response = handler(
        &rt.engine,
        event(
            vec![
                message("m-1", &body),
                message("m-bad", "{\"tenant\": \"acme\", \"type\": 42"),
                message("m-2", &body),
            ],
            Context::default(),
        ),
    )
    .await
    .unwrap();

    assert_eq!(failed(&response), ["m-bad"]);
    let moved = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(moved.stage_id, "won");
    assert_eq!(moved.visit, item.visit + 1, "moved exactly once");
    assert_eq!(trigger_runs(&rt, &item.id).await, 1);

    // The same event again in a later batch (SQS at-least-once): no effect.
    let again = handler(
        &rt.engine,
        event(vec![message("m-3", &body)], Context::default()),
    )
    .await
    .unwrap();
    assert!(again.batch_item_failures.is_empty());
    let after = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(after.visit, moved.visit);
    assert_eq!(trigger_runs(&rt, &item.id).await, 1);
}

#[tokio::test]
async fn a_message_without_a_body_or_of_another_shape_is_reported() {
    let (rt, item) = runtime().await;
    let mut no_body = message("m-empty", "");
    no_body.as_object_mut().unwrap().remove("body");
    let response = handler(
        &rt.engine,
        event(
            vec![
                no_body,
                message("m-job", &json!({"run_id": "x"}).to_string()),
                message("m-ok", &paid(&item.id, "evt-2")),
            ],
            Context::default(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(failed(&response), ["m-empty", "m-job"]);
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "won"
    );
}

#[tokio::test]
async fn near_the_deadline_nothing_is_started_and_everything_is_reported() {
    let (rt, item) = runtime().await;
    let mut context = Context::default();
    let soon = SystemTime::now() + Duration::from_millis(1500);
    context.deadline = soon
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert_eq!(
        deadline_of(&context).map(|d| d > SystemTime::now()),
        Some(true)
    );

    let response = handler(
        &rt.engine,
        event(
            vec![
                message("m-1", &paid(&item.id, "evt-3")),
                message("m-2", &paid(&item.id, "evt-4")),
            ],
            context,
        ),
    )
    .await
    .unwrap();

    assert_eq!(failed(&response), ["m-1", "m-2"]);
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "new"
    );
    assert_eq!(trigger_runs(&rt, &item.id).await, 0);
}

#[test]
fn an_unknown_deadline_is_no_deadline() {
    assert_eq!(deadline_of(&Context::default()), None);
    assert!(!near(None));
    assert!(near(Some(SystemTime::now())));
    assert!(!near(Some(SystemTime::now() + Duration::from_secs(60))));
}
