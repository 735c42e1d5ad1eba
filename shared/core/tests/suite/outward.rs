//! Robots that reach the client outside the CRM (issue #14): robocalls,
//! messenger replies, advertising audiences — end to end on the in-memory
//! ports, with their outcome events.

use crate::common;

use common::*;
use crm_core::audiences::sha256_hex;
use crm_core::engine::PageRequest;
use crm_core::model::{Channel, RunStatus};
use crm_core::ports::Job;
use serde_json::json;

/// Deliver the job of a finished run once more (an at-least-once queue).
async fn redeliver(rt: &crm_core::memory::MemRuntime, item: &str, robot: &str) {
    let run_id = crm_core::planning::run_id(item, 1, robot);
    rt.engine
        .run_job(Job {
            tenant: T.to_string(),
            run_id,
            item_id: item.to_string(),
            visit: 1,
            due_at: at(MONDAY_1144_MSK),
            then: Vec::new(),
        })
        .await
        .unwrap();
    rt.settle().await.unwrap();
}

#[tokio::test]
async fn a_robocall_goes_out_once_and_its_outcome_moves_the_deal() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "call_client", "settings": {
            "text": "Hello {{client.name}}, your order {{title}} is ready",
            "language": "en-US", "voice": "jane", "repeat": 2}}),
    )
    .await;
    trigger(
        &rt,
        json!({"stage_id": "presentation", "type": "missed_call", "name": "No answer"}),
    )
    .await;
    let item = deal(&rt, "new", 1.0).await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Done, "{run:#?}");
    let call_id = run.outputs["call_id"].as_str().unwrap().to_string();
    redeliver(&rt, &item.id, &r.id).await;

    let calls = rt
        .engine
        .list_outbound(T, Some(Channel::Call))
        .await
        .unwrap();
    assert_eq!(
        calls.len(),
        1,
        "one call per visit, however often the job comes"
    );
    let c = &calls[0];
    assert_eq!(
        (c.id.as_str(), c.to.as_str()),
        (call_id.as_str(), "+7 (495) 123-45-67")
    );
    assert_eq!(
        c.body,
        "Hello Romashka LLC, your order Website for Romashka is ready"
    );
    let spec = c.call.as_ref().unwrap();
    assert_eq!(
        (spec.language.as_str(), spec.voice.as_deref(), spec.repeat),
        ("en-US", Some("jane"), 2)
    );
    assert_eq!(rt.delivery.delivered().len(), 1);
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    assert!(tl.iter().any(|e| e.kind == "call_sent"), "{tl:#?}");

    // The telephony side reports the outcome by call id only.
    let unknown = rt
        .engine
        .submit_event(
            T,
            body(json!({"type": "missed_call", "data": {"call_id": "call-nope"}})),
        )
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("call"), "{unknown}");
    rt.engine
        .submit_event(
            T,
            body(json!({"type": "missed_call", "data": {"call_id": call_id}})),
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "presentation"
    );
}

#[tokio::test]
async fn a_call_needs_the_clients_phone() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "call_client", "settings": {"text": "Hi"}}),
    )
    .await;
    let item =
        crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("No phone")).await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.reason.unwrap().contains("the client has no phone"));
    assert!(rt.delivery.delivered().is_empty());
}

#[tokio::test]
async fn robot_settings_are_checked_when_saved() {
    let rt = company(MONDAY_1144_MSK).await;
    let bad = [
        (
            json!({"type": "call_client", "settings": {"text": "Hi", "repeat": 5}}),
            "settings.repeat",
        ),
        (
            json!({"type": "call_client", "settings": {"text": "Hi", "language": "klingon"}}),
            "settings.language",
        ),
        (
            json!({"type": "message_client", "settings": {"channel": "icq", "text": "Hi"}}),
            "settings.channel",
        ),
        (
            json!({"type": "add_to_audience", "settings": {"network": "myspace", "audience_id": "a"}}),
            "settings.network",
        ),
        (
            json!({"type": "remove_from_audience", "settings": {"network": "vk", "audience_id": "a b"}}),
            "settings.audience_id",
        ),
    ];
    for (mut v, field) in bad {
        v["stage_id"] = json!("new");
        let err = rt
            .engine
            .create_robot(T, "deals", body(v.clone()))
            .await
            .unwrap_err();
        let crm_core::error::EngineError::Unprocessable { details } = &err else {
            panic!("{v}: {err:?}");
        };
        assert_eq!(details[0].field, field, "{v}");
    }
    assert!(rt.engine.list_robots(T, "deals").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_messenger_reply_goes_to_the_clients_handle_and_the_answer_moves_the_deal() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "message_client", "settings": {
            "channel": "telegram", "text": "Hi {{client.name}}, got your order"}}),
    )
    .await;
    let wa = robot(
        &rt,
        json!({"stage_id": "new", "type": "message_client", "settings": {
            "channel": "whatsapp", "text": "Also here"}}),
    )
    .await;
    let vk = robot(
        &rt,
        json!({"stage_id": "new", "type": "message_client", "settings": {
            "channel": "vk", "text": "And here"}}),
    )
    .await;
    trigger(
        &rt,
        json!({"stage_id": "presentation", "type": "incoming_message", "settings": {"channel": "whatsapp"}}),
    )
    .await;
    let mut d = crm_core::testing::deal("new", 5.0);
    d["client"]["messengers"] = json!({"telegram": "@romashka"});
    let item = crm_core::testing::settled_item(&rt, d).await;
    let rs = runs(&rt, &item.id).await;
    let tg = run_of(&rs, &r.id);
    assert_eq!(tg.status, RunStatus::Done, "{tg:#?}");
    assert_eq!(run_of(&rs, &wa.id).status, RunStatus::Done);
    let failed = run_of(&rs, &vk.id);
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(
        failed.reason.as_deref().unwrap().contains("no vk contact"),
        "{failed:#?}"
    );
    redeliver(&rt, &item.id, &r.id).await;

    let out = rt
        .engine
        .list_outbound(T, Some(Channel::Messenger))
        .await
        .unwrap();
    assert_eq!(out.len(), 2, "{out:#?}");
    let tgm = out
        .iter()
        .find(|m| m.network.as_deref() == Some("telegram"))
        .unwrap();
    assert_eq!(tgm.to, "@romashka");
    assert_eq!(tgm.body, "Hi Romashka LLC, got your order");
    assert_eq!(tgm.id, tg.outputs["message_id"].as_str().unwrap());
    let wam = out
        .iter()
        .find(|m| m.network.as_deref() == Some("whatsapp"))
        .unwrap();
    assert_eq!(wam.to, "+7 (495) 123-45-67");

    // A Telegram answer does not match the WhatsApp trigger; a WhatsApp one does.
    let answer = |channel: &str| {
        body(
            json!({"type": "incoming_message", "client": {"phone": "+7 (495) 123-45-67"},
            "data": {"channel": channel, "text": "ok"}}),
        )
    };
    rt.engine.submit_event(T, answer("telegram")).await.unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "new"
    );
    let bad = rt.engine.submit_event(T, answer("icq")).await.unwrap_err();
    assert!(format!("{bad:?}").contains("data.channel"), "{bad:?}");
    rt.engine.submit_event(T, answer("whatsapp")).await.unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "presentation"
    );
}

#[tokio::test]
async fn client_messenger_handles_are_validated() {
    let rt = company(MONDAY_1144_MSK).await;
    let mut d = crm_core::testing::deal("new", 5.0);
    d["client"]["messengers"] = json!({"icq": "12345"});
    let err = rt.engine.create_item(T, body(d)).await.unwrap_err();
    assert!(
        format!("{err:?}").contains("client.messengers.icq"),
        "{err:?}"
    );
}

#[tokio::test]
async fn audiences_get_hashed_contacts_once_per_visit_and_lose_them_on_removal() {
    let rt = company(MONDAY_1144_MSK).await;
    let add = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_to_audience", "settings": {
            "network": "facebook", "audience_id": "hot-leads"}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "won", "type": "remove_from_audience", "settings": {
            "network": "facebook", "audience_id": "hot-leads"}}),
    )
    .await;
    let item = deal(&rt, "new", 1.0).await;
    let other = deal(&rt, "new", 2.0).await;
    let run = run_of(&runs(&rt, &item.id).await, &add.id).clone();
    assert_eq!(run.status, RunStatus::Done);
    assert!(
        run.reason.as_deref().unwrap().contains("phone and email"),
        "{run:#?}"
    );
    redeliver(&rt, &item.id, &add.id).await;

    let req = PageRequest::new(None, None);
    let auds = rt.engine.audiences_page(T, &req).await.unwrap().items;
    assert_eq!(auds.len(), 1);
    assert_eq!(
        (
            auds[0].network.as_str(),
            auds[0].audience_id.as_str(),
            auds[0].member_count
        ),
        ("facebook", "hot-leads", 2)
    );
    let members = rt
        .engine
        .audience_members_page(T, "facebook", "hot-leads", &req)
        .await
        .unwrap()
        .items;
    let m = members.iter().find(|m| m.item_id == item.id).unwrap();
    assert_eq!(m.contacts.phone_sha256, Some(sha256_hex("74951234567")));
    assert_eq!(
        m.contacts.email_sha256,
        Some(sha256_hex("buyer@romashka.test"))
    );
    let stored = serde_json::to_string(&members).unwrap();
    assert!(
        !stored.contains("romashka.test") && !stored.contains("495"),
        "{stored}"
    );
    // Another tenant sees nothing of it.
    assert!(
        rt.engine
            .audiences_page("other", &req)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        rt.engine
            .audience_members_page("other", "facebook", "hot-leads", &req)
            .await
            .is_err()
    );

    move_to(&rt, &item.id, "won").await;
    let auds = rt.engine.audiences_page(T, &req).await.unwrap().items;
    assert_eq!(auds[0].member_count, 1);
    let members = rt
        .engine
        .audience_members_page(T, "facebook", "hot-leads", &req)
        .await
        .unwrap()
        .items;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].item_id, other.id);
}

#[tokio::test]
async fn an_audience_needs_a_phone_or_an_email() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_to_audience", "settings": {
            "network": "vk", "audience_id": "a1"}}),
    )
    .await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("Nobody")).await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.reason.unwrap().contains("neither a phone nor an email"));
    let req = PageRequest::new(None, None);
    assert!(
        rt.engine
            .audiences_page(T, &req)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
