//! Deleting a robot with more waiting runs than a page: the request cancels
//! the first page, the deletion's outbox record the rest, a page per record
//! (each record replaced by the next page's as it is deleted), so a crash or
//! a repeated record part way loses and repeats nothing.

use crate::common::*;
use crm_core::engine::CANCEL_PAGE;
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::Doc;
use serde_json::json;

/// The pending outbox records that cancel a deleted robot's runs.
async fn cancel_records(rt: &MemRuntime) -> Vec<Doc> {
    let mut docs = rt.engine.pending_outbox().await.unwrap();
    docs.retain(|d| d.key.id.contains("|robot-deleted|"));
    docs
}

#[tokio::test]
async fn a_robot_with_many_waiting_runs_is_cancelled_a_page_per_outbox_record() {
    const ITEMS: usize = CANCEL_PAGE * 2 + 30;
    let rt = company(MONDAY_1144_MSK).await;
    let doomed = robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_supervisor",
            "delay": {"mode": "after", "amount": 1, "unit": "days"},
            "settings": {"text": "doomed {{title}}"}}),
    )
    .await;
    let mut items = Vec::with_capacity(ITEMS);
    for i in 0..ITEMS {
        let deal = crm_core::testing::plain_deal(&format!("Deal {i}"));
        items.push(crm_core::testing::settled_item(&rt, deal).await.id);
    }
    assert_eq!(pending_index(&rt, &doomed.id).await, ITEMS);

    rt.engine
        .delete_robot(T, "deals", &doomed.id)
        .await
        .unwrap();
    assert_eq!(
        pending_index(&rt, &doomed.id).await,
        ITEMS - CANCEL_PAGE,
        "the request cancels the first page"
    );
    let first = cancel_records(&rt).await;
    assert_eq!(first.len(), 1, "the rest is a durable job");

    rt.engine.process_outbox(first[0].clone()).await.unwrap();
    assert_eq!(
        pending_index(&rt, &doomed.id).await,
        ITEMS - 2 * CANCEL_PAGE
    );
    let second = cancel_records(&rt).await;
    assert_eq!(second.len(), 1, "replaced by the next page's record");
    assert_ne!(second[0].key, first[0].key);
    // The first record delivered again (a repeated stream record): it is
    // gone, so it writes no second continuation.
    rt.engine.process_outbox(first[0].clone()).await.unwrap();
    assert_eq!(cancel_records(&rt).await.len(), 1);

    rt.settle().await.unwrap();
    assert_eq!(pending_index(&rt, &doomed.id).await, 0);
    assert!(cancel_records(&rt).await.is_empty());
    for item in &items {
        let run = run_of(&runs(&rt, item).await, &doomed.id).clone();
        assert_eq!(run.status, RunStatus::Cancelled, "{run:?}");
        assert!(
            run.reason
                .as_deref()
                .unwrap_or_default()
                .contains("robot deleted"),
            "{run:?}"
        );
        assert!(!rt.jobs.is_scheduled(T, &run.id), "its timer is cancelled");
    }
    // A day later nothing runs.
    rt.advance(chrono::Duration::days(2)).await.unwrap();
    for item in &items {
        let run = run_of(&runs(&rt, item).await, &doomed.id).clone();
        assert_eq!(run.status, RunStatus::Cancelled);
    }
}
