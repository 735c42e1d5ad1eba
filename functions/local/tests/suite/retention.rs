//! Retention on the local server (issue #11): an event's record is kept 90
//! days after the event was processed, then the worker's purge deletes it —
//! SQLite has no TTL of its own — while the items' run logs stay.

use chrono::TimeDelta;
use crm_automation::{ClockMode, Runtime, RuntimeClock, RuntimeOptions};
use crm_core::api::{EventBody, NewItem, TriggerBody};
use crm_core::error::EngineError;
use crm_core::testing::{TENANT as A, at, body};
use crm_embedded::Db;
use serde_json::json;

#[tokio::test]
async fn an_event_record_is_purged_after_90_days_and_the_run_log_stays() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::with_db(
        Db::open(dir.path()).unwrap(),
        RuntimeClock::new(ClockMode::Manual, Some(at("2026-11-23T08:00:00Z"))),
        RuntimeOptions::default(),
    );
    let e = rt.engine();
    crm_core::testing::load(&e, A).await.unwrap();
    e.create_trigger(
        A,
        "deals",
        body::<TriggerBody>(
            json!({"stage_id": "presentation", "type": "incoming_call", "name": "Client called"}),
        ),
    )
    .await
    .unwrap();
    let item = e
        .create_item(
            A,
            body::<NewItem>(json!({"pipeline_id": "deals", "title": "Called",
                "responsible_id": "u-boss", "client": {"name": "C", "phone": "+7 495 1"}})),
        )
        .await
        .unwrap()
        .id;
    let event_id = e
        .submit_event(
            A,
            body::<EventBody>(json!({"type": "incoming_call", "client": {"phone": "+7 495 1"}})),
        )
        .await
        .unwrap();
    rt.run_until_idle().await;
    assert_eq!(e.get_event(A, &event_id).await.unwrap().item_count, 1);

    rt.advance(TimeDelta::days(89)).await.unwrap();
    assert!(e.get_event(A, &event_id).await.is_ok(), "kept for 90 days");

    rt.advance(TimeDelta::days(2)).await.unwrap();
    assert!(
        matches!(
            e.get_event(A, &event_id).await,
            Err(EngineError::NotFound { .. })
        ),
        "purged after 90 days"
    );
    let evaluations = e
        .runs(A, &item)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event_id.as_deref() == Some(event_id.as_str()))
        .count();
    assert_eq!(evaluations, 1, "the item's run log keeps the evaluation");
    assert_eq!(e.get_item(A, &item).await.unwrap().stage_id, "presentation");
}
