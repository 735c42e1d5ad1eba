//! `GET /v1/items/{id}/runs` pages the run log visit by visit and the
//! trigger evaluations by id, never reading the item's whole history
//! (issue #11), in the log's order: creation, visit, stage order.

use crate::common;

use std::sync::atomic::Ordering;

use common::run_reads::watched;
use common::*;
use crm_core::Engine;
use crm_core::api::EventBody;
use crm_core::engine::paging::PageRequest;
use crm_core::error::EngineError;
use crm_core::memory::MemRuntime;
use crm_core::model::{RunKind, RunRecord};
use serde_json::json;

/// Every page of `limit`, concatenated, and how many pages there were.
async fn all_pages(engine: &Engine, item: &str, limit: usize) -> (Vec<RunRecord>, usize) {
    let mut req = PageRequest::new(Some(limit), None);
    let (mut all, mut pages) = (Vec::new(), 0);
    loop {
        let page = engine.runs_page(T, item, &req).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= limit);
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => return (all, pages),
        }
    }
}

fn ids(runs: &[RunRecord]) -> Vec<String> {
    runs.iter().map(|r| r.id.clone()).collect()
}

/// The log's order, as a sort of the whole log would give it.
fn sorted(mut runs: Vec<RunRecord>) -> Vec<String> {
    let order = |r: &RunRecord| r.robot.as_ref().map_or(u64::MAX, |x| x.order);
    runs.sort_by(|a, b| {
        (a.created_at, a.visit, order(a), &a.id).cmp(&(b.created_at, b.visit, order(b), &b.id))
    });
    ids(&runs)
}

/// A deal in `new` with two robots there, moved between `new` and `prep`
/// `visits` times in all, the client calling (an event for the item) before
/// each move, one hour apart.
/// The test ids count up (`evt-9`, `evt-10`): they are taken from 100 on,
/// so that they sort by id as they were made, as time-ordered ids do.
async fn deal_with_history(rt: &MemRuntime, visits: usize) -> String {
    while rt.engine.ports().ids.next_id("x") != "x-100" {}
    robot(
        rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "one"}}),
    )
    .await;
    robot(
        rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "two"}}),
    )
    .await;
    trigger(
        rt,
        json!({"stage_id": "presentation", "type": "incoming_call", "name": "Client called",
            "condition": {"field": "amount", "op": "gt", "value": 1_000_000_000}}),
    )
    .await;
    let id = new_deal(rt).await.id;
    for v in 1..visits {
        rt.clock.advance(chrono::Duration::hours(1));
        rt.engine
            .submit_event(
                T,
                body::<EventBody>(json!({"type": "incoming_call", "item_id": id})),
            )
            .await
            .unwrap();
        rt.settle().await.unwrap();
        move_to(rt, &id, if v % 2 == 1 { "prep" } else { "new" }).await;
    }
    id
}

#[tokio::test]
async fn pages_of_any_size_give_the_whole_log_in_order_without_reading_it_whole() {
    let rt = company(MONDAY_1144_MSK).await;
    let id = deal_with_history(&rt, 9).await;
    let (engine, store) = watched(&rt);
    let (all, _) = all_pages(&engine, &id, 200).await;
    let evaluations = all.iter().filter(|r| r.kind == RunKind::Trigger).count();
    assert_eq!(evaluations, 8, "one per call: {all:#?}");
    assert_eq!(all.len(), 8 + 5 * 2, "5 visits of `new` with 2 robots");
    assert_eq!(ids(&all), sorted(all.clone()), "the log's order");
    for limit in [1, 2, 3, 5, 7] {
        let (paged, pages) = all_pages(&engine, &id, limit).await;
        assert_eq!(ids(&paged), ids(&all), "limit {limit}");
        assert_eq!(
            pages,
            all.len().div_ceil(limit),
            "limit {limit}: no empty page"
        );
    }
    assert_eq!(store.lists.load(Ordering::SeqCst), 0, "no whole run log");
    assert!(
        store.largest.load(Ordering::SeqCst) <= 8,
        "one visit or one page of evaluations at a time"
    );
}

#[tokio::test]
async fn a_long_stretch_of_visits_without_robots_ends_a_page_early_with_a_cursor() {
    let rt = company(MONDAY_1144_MSK).await;
    let id = new_deal(&rt).await.id;
    for v in 0..40 {
        move_to(&rt, &id, if v % 2 == 0 { "prep" } else { "new" }).await;
    }
    let r = robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment", "settings": {"text": "at last"}}),
    )
    .await;
    move_to(&rt, &id, "prep").await;
    let first = rt
        .engine
        .runs_page(T, &id, &PageRequest::new(Some(10), None))
        .await
        .unwrap();
    assert!(
        first.items.is_empty(),
        "32 visits read, none with runs: {first:#?}"
    );
    let second = rt
        .engine
        .runs_page(T, &id, &PageRequest::new(Some(10), first.next_cursor))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].robot_id.as_deref(), Some(r.id.as_str()));
    assert_eq!(second.items[0].visit, 42);
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn a_deleted_items_log_is_still_listed_and_an_unknown_item_is_not_found() {
    let rt = company(MONDAY_1144_MSK).await;
    let id = deal_with_history(&rt, 4).await;
    let before = rt.engine.runs(T, &id).await.unwrap();
    rt.engine.delete_item(T, &id, None).await.unwrap();
    rt.settle().await.unwrap();
    let after = rt.engine.runs(T, &id).await.unwrap();
    assert_eq!(ids(&after)[..before.len()], ids(&before)[..]);
    let gone = rt.engine.runs(T, "item-nope").await;
    assert!(
        matches!(gone, Err(EngineError::NotFound { .. })),
        "{gone:?}"
    );
    let bad = rt
        .engine
        .runs_page(T, &id, &PageRequest::new(Some(5), Some("6869".into())))
        .await;
    assert!(
        matches!(&bad, Err(EngineError::BadRequest { field, .. }) if field == "cursor"),
        "{bad:?}"
    );
}
