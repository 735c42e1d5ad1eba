//! The outward robots of issue #14 on the AWS function set (LocalStack):
//! a robocall and its outcome event, a messenger reply, an audience change
//! through the outbox stream, and a task chain — each effect once.

use crm_core::engine::PageRequest;
use crm_core::model::{Channel, RunStatus};
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use serde_json::json;

async fn rig_with_company(name: &str) -> AwsRig {
    let rig = AwsRig::new(name, at(MONDAY_1144_MSK)).await;
    crm_core::testing::load(&rig.engine, &rig.tenant)
        .await
        .expect("the company loads");
    rig
}

#[tokio::test]
async fn calls_messages_and_audiences_go_out_once_after_the_commit() {
    let rig = rig_with_company("outward").await;
    let t = rig.tenant.clone();
    for r in [
        json!({"stage_id": "new", "type": "call_client", "settings": {"text": "Hello {{client.name}}"}}),
        json!({"stage_id": "new", "type": "message_client", "settings": {"channel": "whatsapp", "text": "Hi"}}),
        json!({"stage_id": "new", "type": "add_to_audience", "settings": {"network": "google", "audience_id": "buyers"}}),
    ] {
        rig.engine.create_robot(&t, "deals", body(r)).await.unwrap();
    }
    rig.engine
        .create_trigger(
            &t,
            "deals",
            body(json!({"stage_id": "presentation", "type": "missed_call"})),
        )
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::deal("new", 1.0)))
        .await
        .unwrap();
    rig.settle().await;
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Done),
        "{runs:#?}"
    );
    let calls = rig
        .engine
        .list_outbound(&t, Some(Channel::Call))
        .await
        .unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body, "Hello Romashka LLC");
    let msgs = rig
        .engine
        .list_outbound(&t, Some(Channel::Messenger))
        .await
        .unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].network.as_deref(), Some("whatsapp"));
    let req = PageRequest::new(None, None);
    let auds = rig.engine.audiences_page(&t, &req).await.unwrap().items;
    assert_eq!(auds.len(), 1);
    assert_eq!(auds[0].member_count, 1);
    let members = rig
        .engine
        .audience_members_page(&t, "google", "buyers", &req)
        .await
        .unwrap()
        .items;
    assert_eq!(
        members[0].contacts.email_sha256.as_deref(),
        Some(crm_core::audiences::sha256_hex("buyer@romashka.test").as_str())
    );

    let call_id = calls[0].id.clone();
    rig.engine
        .submit_event(
            &t,
            body(json!({"type": "missed_call", "data": {"call_id": call_id}})),
        )
        .await
        .unwrap();
    rig.settle().await;
    assert_eq!(
        rig.engine.get_item(&t, &item.id).await.unwrap().stage_id,
        "presentation"
    );
    rig.teardown().await;
}

#[tokio::test]
async fn a_task_chain_waits_for_the_task_on_aws() {
    let rig = rig_with_company("chain").await;
    let t = rig.tenant.clone();
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(
                json!({"stage_id": "new", "type": "create_task", "settings": {"title": "Prepare"}}),
            ),
        )
        .await
        .unwrap();
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(
                json!({"stage_id": "new", "type": "create_task", "after_previous": true,
                "wait_for": "task_completed", "settings": {"title": "Get the scan"}}),
            ),
        )
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::deal("new", 1.0)))
        .await
        .unwrap();
    rig.settle().await;
    let tasks = rig.engine.list_tasks(&t, &item.id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    rig.engine
        .patch_task(&t, &tasks[0].id, body(json!({"status": "completed"})))
        .await
        .unwrap();
    rig.settle().await;
    let tasks = rig.engine.list_tasks(&t, &item.id).await.unwrap();
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    assert!(tasks.iter().any(|x| x.title == "Get the scan"));
    rig.teardown().await;
}
