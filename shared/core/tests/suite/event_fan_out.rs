//! An event that names a client is fanned out (issue #11): one queued part
//! per matched item, the items listed a page at a time, so no step of the
//! event reads or evaluates more than a page however many items the client
//! has; the event's record keeps a count and a sample of the ids.

use crate::common;

use common::*;
use crm_core::api::{EventBody, NewItem};
use crm_core::flows::event_items::EVENT_ITEMS_PAGE;
use crm_core::model::{EVENT_ITEM_SAMPLE, FanOut};
use serde_json::json;

const PHONE: &str = "+7 495 555 01 02";
const EMAIL: &str = "buyer@romashka.example";

/// `n` deals of one client in `new`: the first `email_only` known by email
/// alone, the others by phone and email (matched by both keys of the event).
async fn deals_of_one_client(
    rt: &crm_core::memory::MemRuntime,
    n: usize,
    email_only: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let client = if i < email_only {
            json!({"name": "Romashka", "email": EMAIL})
        } else {
            json!({"name": "Romashka", "phone": PHONE, "email": EMAIL})
        };
        let item = rt
            .engine
            .create_item(
                T,
                body::<NewItem>(json!({"pipeline_id": "deals", "stage_id": "new",
                    "title": format!("Order {i}"), "responsible_id": "u-anna", "client": client})),
            )
            .await
            .unwrap();
        ids.push(item.id);
    }
    rt.settle().await.unwrap();
    ids
}

#[tokio::test]
async fn a_client_event_is_fanned_out_a_page_at_a_time_and_each_item_moves_once() {
    let rt = company(MONDAY_1144_MSK).await;
    trigger(
        &rt,
        json!({"stage_id": "presentation", "type": "incoming_call", "name": "Client called"}),
    )
    .await;
    let ids = deals_of_one_client(&rt, 250, 40).await;
    let event_id = rt
        .engine
        .submit_event(
            T,
            body::<EventBody>(json!({"type": "incoming_call",
                "client": {"phone": PHONE, "email": EMAIL}})),
        )
        .await
        .unwrap();

    // Step by step, as the trigger-eval function takes the queued messages.
    let mut listings = 0;
    let mut parts = 0;
    let mut most_queued_by_a_step = 0;
    while let Some(e) = rt.events.pop() {
        let before = rt.events.len();
        match &e.fan_out {
            Some(FanOut::Part) => parts += 1,
            _ => listings += 1,
        }
        rt.engine.handle_event(e).await.unwrap();
        most_queued_by_a_step = most_queued_by_a_step.max(rt.events.len() - before);
    }
    rt.settle().await.unwrap();

    assert_eq!(
        parts, 250,
        "one part per item: those matched by phone and email once"
    );
    assert!(listings >= 3, "250 items are listed in pages: {listings}");
    assert!(
        most_queued_by_a_step <= EVENT_ITEMS_PAGE + 1,
        "a step queues a page of parts and its continuation: {most_queued_by_a_step}"
    );
    for id in &ids {
        let item = rt.engine.get_item(T, id).await.unwrap();
        assert_eq!(
            (item.stage_id.as_str(), item.visit),
            ("presentation", 2),
            "{id}"
        );
    }
    let record = rt.engine.get_event(T, &event_id).await.unwrap();
    assert_eq!(record.status, "evaluated");
    assert_eq!(record.item_count, 250);
    assert_eq!(record.item_ids.len(), EVENT_ITEM_SAMPLE);
    assert!(record.item_ids.iter().all(|id| ids.contains(id)));
}

#[tokio::test]
async fn a_repeated_step_of_a_fan_out_moves_no_item_twice() {
    let rt = company(MONDAY_1144_MSK).await;
    trigger(
        &rt,
        json!({"stage_id": "presentation", "type": "incoming_call", "name": "Client called"}),
    )
    .await;
    let ids = deals_of_one_client(&rt, 120, 0).await;
    rt.engine
        .submit_event(
            T,
            body::<EventBody>(json!({"type": "incoming_call", "client": {"phone": PHONE}})),
        )
        .await
        .unwrap();
    // Every message is delivered twice (SQS is at least once).
    while let Some(e) = rt.events.pop() {
        rt.engine.handle_event(e.clone()).await.unwrap();
        rt.engine.handle_event(e).await.unwrap();
    }
    rt.settle().await.unwrap();
    for id in &ids {
        let item = rt.engine.get_item(T, id).await.unwrap();
        assert_eq!(item.visit, 2, "moved once: {id}");
        let evaluations = rt
            .engine
            .runs(T, id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.trigger_id.is_some())
            .count();
        assert_eq!(evaluations, 1, "{id}");
    }
}
