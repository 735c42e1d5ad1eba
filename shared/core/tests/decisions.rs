//! Decisions where the spec is silent (issue #9, items 6, 7, 9–12), end to
//! end on the in-memory ports with a manual clock.

mod common;

use chrono::Duration;
use common::*;
use crm_core::api::UserBody;
use crm_core::memory::MemRuntime;
use crm_core::model::{Item, RunStatus};
use serde_json::{Value, json};

/// `u-bert`, a user in Europe/Berlin (daylight saving).
async fn berlin_user(rt: &MemRuntime) {
    rt.engine
        .put_user(
            T,
            "u-bert",
            body::<UserBody>(json!({"name": "Bert Berlin", "time_zone": "Europe/Berlin"})),
        )
        .await
        .unwrap();
}

async fn item_of(rt: &MemRuntime, v: Value) -> Item {
    crm_core::testing::settled_item(rt, v).await
}

// ------------------------------------------------------------- 9. calendar days

#[tokio::test]
async fn one_day_is_the_same_wall_clock_time_across_the_spring_switch() {
    // Saturday 2026-03-28 10:00 CET; Berlin switches to CEST on Sunday 29th.
    let rt = company("2026-03-28T09:00:00Z").await;
    berlin_user(&rt).await;
    let r = robot(&rt, json!({"stage_id": "new", "type": "add_history_record",
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "settings": {"text": "a day later"}}))
    .await;
    let item = item_of(&rt, json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-bert"}))
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    // Sunday 10:00 CEST = 08:00 UTC: 23 elapsed hours, not 24.
    assert_eq!(run.due_at, Some(at("2026-03-29T08:00:00Z")));
    rt.advance(Duration::hours(23)).await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Done);
}

#[tokio::test]
async fn days_before_a_date_field_are_calendar_days_across_the_autumn_switch() {
    // Berlin leaves CEST on Sunday 2026-10-25; a meeting on Monday 26th 10:00 CET.
    let rt = company("2026-10-20T08:00:00Z").await;
    berlin_user(&rt).await;
    let r = robot(&rt, json!({"stage_id": "new", "type": "add_history_record",
        "delay": {"mode": "before_field", "amount": 2, "unit": "days", "field": "fields.meeting_at"},
        "settings": {"text": "two days before"}}))
    .await;
    let item = item_of(&rt, json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-bert",
        "fields": {"meeting_at": "2026-10-26T09:00:00Z"}}))
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    // Saturday 24th 10:00 CEST = 08:00 UTC (49 elapsed hours before).
    assert_eq!(run.due_at, Some(at("2026-10-24T08:00:00Z")));
}

#[tokio::test]
async fn hours_stay_elapsed_time_across_the_switch() {
    let rt = company("2026-03-28T09:00:00Z").await;
    berlin_user(&rt).await;
    let r = robot(&rt, json!({"stage_id": "new", "type": "add_history_record",
        "delay": {"mode": "after", "amount": 24, "unit": "hours"},
        "settings": {"text": "24 hours later"}}))
    .await;
    let item = item_of(&rt, json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-bert"}))
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.due_at, Some(at("2026-03-29T09:00:00Z")));
}
