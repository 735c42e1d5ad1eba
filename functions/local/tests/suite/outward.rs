//! Robots that reach the client outside the CRM (issue #14) through the
//! HTTP API of the local server (real TCP, SQLite, manual clock): a robocall
//! and its outcome event, a messenger reply and the client's answer, and
//! advertising audiences with hashed contacts.

use crate::common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_robocall_and_a_messenger_reply_go_out_and_their_answers_move_the_deal() {
    let (_dir, server, api, other) = started(MONDAY_1144_MSK).await;
    // Bad settings are refused, naming the field.
    let (status, err) = api
        .call(
            Method::POST,
            "/v1/pipelines/deals/robots",
            Some(json!({"stage_id": "new", "type": "call_client",
                "settings": {"text": "Hi", "repeat": 9}})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["details"][0]["field"], "settings.repeat");

    let call = api
        .robot(
            json!({"stage_id": "new", "type": "call_client", "settings": {
            "text": "Hello {{client.name}}", "language": "ru-RU", "repeat": 2}}),
        )
        .await;
    let msg = api
        .robot(
            json!({"stage_id": "prep", "type": "message_client", "settings": {
            "channel": "telegram", "text": "Your project {{title}} has started"}}),
        )
        .await;
    api.trigger(json!({"stage_id": "prep", "type": "incoming_call", "name": "Answered"}))
        .await;
    api.trigger(
        json!({"stage_id": "presentation", "type": "incoming_message",
        "settings": {"channel": "telegram"}}),
    )
    .await;
    let mut d = crm_core::testing::deal("new", 10.0);
    d["client"]["messengers"] = json!({"telegram": "@romashka_llc"});
    let item = api.post("/v1/items", d).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.settle().await;

    let run = run_of(&api.runs(&item).await, &call).clone();
    assert_eq!(run["status"], "done", "{run:#}");
    let call_id = run["outputs"]["call_id"].as_str().unwrap().to_string();
    let calls = api.all_pages("/v1/outbox?channel=call", "messages").await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["id"], call_id.as_str());
    assert_eq!(calls[0]["body"], "Hello Romashka LLC");
    assert_eq!(calls[0]["call"]["repeat"], 2);
    assert_eq!(calls[0]["status"], "sent");

    // The telephony reports "answered" naming only the call.
    let (status, v) = api
        .call(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "incoming_call", "data": {"call_id": call_id}})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    // Another tenant cannot reach the call.
    let (status, v) = other
        .call(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "incoming_call", "data": {"call_id": call_id}})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["details"][0]["field"], "data.call_id");
    api.settle().await;
    assert_eq!(
        api.get(&format!("/v1/items/{item}")).await["stage_id"],
        "prep"
    );

    let run = run_of(&api.runs(&item).await, &msg).clone();
    assert_eq!(run["status"], "done", "{run:#}");
    let sent = api
        .all_pages("/v1/outbox?channel=messenger", "messages")
        .await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["network"], "telegram");
    assert_eq!(sent[0]["to"], "@romashka_llc");
    assert_eq!(
        sent[0]["body"],
        "Your project Website for Romashka has started"
    );
    let tl = api.timeline(&item).await;
    assert!(tl.iter().any(|e| e["kind"] == "messenger_sent"), "{tl:#?}");

    // The client answers in Telegram, found by the message it answers.
    let (status, v) = api
        .call(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "incoming_message",
                "data": {"channel": "telegram", "message_id": run["outputs"]["message_id"], "text": "Thanks!"}})),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    api.settle().await;
    assert_eq!(
        api.get(&format!("/v1/items/{item}")).await["stage_id"],
        "presentation"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiences_are_listed_with_hashed_members_per_tenant() {
    let (_dir, server, api, other) = started(MONDAY_1144_MSK).await;
    api.robot(
        json!({"stage_id": "new", "type": "add_to_audience", "settings": {
        "network": "vk", "audience_id": "new-deals"}}),
    )
    .await;
    let remove = api
        .robot(
            json!({"stage_id": "lost", "type": "remove_from_audience", "settings": {
            "network": "vk", "audience_id": "new-deals"}}),
        )
        .await;
    let a = api.deal("new", 1.0).await;
    let b = api.deal("new", 2.0).await;

    let auds = api.all_pages("/v1/audiences", "audiences").await;
    assert_eq!(auds.len(), 1, "{auds:#?}");
    assert_eq!(auds[0]["network"], "vk");
    assert_eq!(auds[0]["audience_id"], "new-deals");
    assert_eq!(auds[0]["member_count"], 2);
    let members = api
        .all_pages("/v1/audiences/vk/new-deals/members", "members")
        .await;
    assert_eq!(members.len(), 2);
    let m = members.iter().find(|m| m["item_id"] == a.as_str()).unwrap();
    assert_eq!(
        m["email_sha256"],
        crm_core::audiences::sha256_hex("buyer@romashka.test")
    );
    assert_eq!(
        m["phone_sha256"],
        crm_core::audiences::sha256_hex("74951234567")
    );
    let page = api.get("/v1/audiences/vk/new-deals/members?limit=1").await;
    assert_eq!(page["members"].as_array().unwrap().len(), 1);
    assert!(page["next_cursor"].is_string());

    // Another tenant sees none of it.
    assert!(
        other
            .all_pages("/v1/audiences", "audiences")
            .await
            .is_empty()
    );
    let (status, _) = other
        .call(Method::GET, "/v1/audiences/vk/new-deals/members", None)
        .await;
    assert_eq!(status, 404);

    api.move_to(&b, "lost").await;
    let run = run_of(&api.runs(&b).await, &remove).clone();
    assert_eq!(run["status"], "done", "{run:#}");
    let auds = api.all_pages("/v1/audiences", "audiences").await;
    assert_eq!(auds[0]["member_count"], 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_chain_waits_for_each_task_to_be_completed() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let (status, err) = api
        .call(
            Method::POST,
            "/v1/pipelines/deals/robots",
            Some(
                json!({"stage_id": "prep", "type": "create_task", "after_previous": true,
                "wait_for": "task_completed", "settings": {"title": "x"}}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["details"][0]["field"], "wait_for");

    api.robot(json!({"stage_id": "prep", "type": "create_task",
        "settings": {"title": "Prepare the contract"}}))
        .await;
    let scan = api
        .robot(
            json!({"stage_id": "prep", "type": "create_task", "after_previous": true,
            "wait_for": "task_completed", "settings": {"title": "Get the scan"}}),
        )
        .await;
    let register = api
        .robot(
            json!({"stage_id": "prep", "type": "create_task", "after_previous": true,
            "wait_for": "task_completed", "wait_timeout": {"amount": 3, "unit": "days"},
            "on_timeout": "skip",
            "settings": {"title": "Register the contract", "responsible_id": "u-dina"}}),
        )
        .await;
    let r = api
        .get(&format!("/v1/pipelines/deals/robots/{register}"))
        .await;
    assert_eq!(r["wait_for"], "task_completed");
    assert_eq!(r["on_timeout"], "skip");

    let item = api.deal("prep", 1.0).await;
    let tasks = |api: Api| {
        let item = item.clone();
        async move {
            api.all_pages(&format!("/v1/tasks?item_id={item}"), "tasks")
                .await
        }
    };
    let ts = tasks(api.clone()).await;
    assert_eq!(ts.len(), 1, "{ts:#?}");
    let run = run_of(&api.runs(&item).await, &scan).clone();
    assert_eq!(run["status"], "pending");
    assert_eq!(run["awaiting_task"], ts[0]["id"]);

    let done = json!({"status": "completed"});
    api.patch(
        &format!("/v1/tasks/{}", ts[0]["id"].as_str().unwrap()),
        done.clone(),
    )
    .await;
    api.settle().await;
    let ts = tasks(api.clone()).await;
    assert_eq!(ts.len(), 2, "{ts:#?}");
    let second = ts.iter().find(|t| t["title"] == "Get the scan").unwrap();
    api.patch(
        &format!("/v1/tasks/{}", second["id"].as_str().unwrap()),
        done,
    )
    .await;
    api.settle().await;
    let ts = tasks(api.clone()).await;
    assert_eq!(ts.len(), 3, "{ts:#?}");
    assert!(
        ts.iter()
            .any(|t| t["title"] == "Register the contract" && t["responsible_id"] == "u-dina")
    );
    let run = run_of(&api.runs(&item).await, &register).clone();
    assert_eq!(run["status"], "done", "{run:#}");

    // Nothing more happens when the timeout's time comes.
    api.advance(4 * 24 * 3600).await;
    assert_eq!(tasks(api.clone()).await.len(), 3);
    server.shutdown().await.unwrap();
}
