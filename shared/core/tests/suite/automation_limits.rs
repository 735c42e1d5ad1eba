//! A stage holds at most 50 robots (and 50 triggers), a pipeline 500 of
//! each: the 51st (or 501st) is refused with 422 naming `stage_id` (or
//! `pipeline_id`), and nothing is stored.

use crate::common;

use common::*;
use crm_core::api::{RobotBody, TriggerBody};
use crm_core::error::EngineError;
use crm_core::{MAX_PER_PIPELINE, MAX_PER_STAGE};
use serde_json::{Value, json};

fn comment(stage: &str) -> Value {
    json!({"stage_id": stage, "type": "add_timeline_comment", "settings": {"text": "hi"}})
}

fn refused_on(e: EngineError) -> Vec<String> {
    match e {
        EngineError::Unprocessable { details } => details.into_iter().map(|d| d.field).collect(),
        e => panic!("not a 422: {e}"),
    }
}

#[tokio::test]
async fn a_stage_takes_fifty_robots_and_no_more() {
    let rt = company(MONDAY_1144_MSK).await;
    for _ in 0..MAX_PER_STAGE {
        robot(&rt, comment("new")).await;
    }
    let err = rt
        .engine
        .create_robot(T, "deals", body::<RobotBody>(comment("new")))
        .await
        .unwrap_err();
    assert_eq!(refused_on(err), ["stage_id"]);
    assert_eq!(
        rt.engine.list_robots(T, "deals").await.unwrap().len(),
        MAX_PER_STAGE,
        "nothing stored"
    );
    // Another stage still takes robots; moving one into the full stage does not.
    let other = robot(&rt, comment("prep")).await;
    let err = rt
        .engine
        .update_robot(T, "deals", &other.id, body::<RobotBody>(comment("new")))
        .await
        .unwrap_err();
    assert_eq!(refused_on(err), ["stage_id"]);
    // A robot of the full stage can still be changed where it is.
    let first = rt.engine.list_robots(T, "deals").await.unwrap()[0].clone();
    let mut changed = comment("new");
    changed["settings"]["text"] = json!("changed");
    rt.engine
        .update_robot(T, "deals", &first.id, body::<RobotBody>(changed))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stage_takes_fifty_triggers_and_no_more() {
    let rt = company(MONDAY_1144_MSK).await;
    let paid = json!({"stage_id": "won", "type": "invoice_paid"});
    for _ in 0..MAX_PER_STAGE {
        trigger(&rt, paid.clone()).await;
    }
    let err = rt
        .engine
        .create_trigger(T, "deals", body::<TriggerBody>(paid))
        .await
        .unwrap_err();
    assert_eq!(refused_on(err), ["stage_id"]);
    assert_eq!(
        rt.engine.list_triggers(T, "deals").await.unwrap().len(),
        MAX_PER_STAGE
    );
}

#[tokio::test]
async fn a_pipeline_takes_five_hundred_robots_and_no_more() {
    let rt = company(MONDAY_1144_MSK).await;
    let stages: Vec<Value> = (0..11)
        .map(
            |i| json!({"id": format!("s{i}"), "name": format!("Stage {i}"), "semantic": "process"}),
        )
        .collect();
    rt.engine
        .put_pipeline(
            T,
            "big",
            body(json!({"entity_type": "deal", "name": "Big", "stages": stages})),
        )
        .await
        .unwrap();
    for i in 0..MAX_PER_PIPELINE {
        rt.engine
            .create_robot(
                T,
                "big",
                body::<RobotBody>(comment(&format!("s{}", i / MAX_PER_STAGE))),
            )
            .await
            .unwrap();
    }
    let err = rt
        .engine
        .create_robot(T, "big", body::<RobotBody>(comment("s10")))
        .await
        .unwrap_err();
    assert_eq!(refused_on(err), ["pipeline_id"]);
    assert_eq!(
        rt.engine.list_robots(T, "big").await.unwrap().len(),
        MAX_PER_PIPELINE
    );
}
