//! The seeds' scenarios through the HTTP API of the local server (real TCP,
//! SQLite on a temporary directory, manual clock moved by
//! `POST /v1/clock/advance`).

use crate::common;

use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_is_notified_after_a_day_in_the_stage() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let r = api.robot(json!({"stage_id": "new", "type": "notify_supervisor", "name": "Escalate",
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "settings": {"text": "{{responsible.name}} has not processed {{title}} ({{amount}} {{currency}})"}})).await;
    let item = api.deal("new", 15000.0).await;
    let run = run_of(&api.runs(&item).await, &r).clone();
    assert_eq!(run["status"], "pending");
    assert_eq!(run["due_at"], "2026-11-24T08:44:00Z");

    assert_eq!(api.advance(23 * 3600).await, "2026-11-24T07:44:00Z");
    assert!(api.notifications("u-boss").await.is_empty());

    api.advance(3600).await;
    let n = api.notifications("u-boss").await;
    assert_eq!(n.len(), 1, "{n:#?}");
    assert_eq!(
        n[0]["text"],
        "Anna Sales has not processed Website for Romashka (15000 RUB)"
    );
    // Ran at its own due time, not at the end of the advance.
    assert_eq!(n[0]["at"], "2026-11-24T08:44:00Z");
    let run = run_of(&api.runs(&item).await, &r).clone();
    assert_eq!(run["status"], "done");
    assert_eq!(run["finished_at"], "2026-11-24T08:44:00Z");

    // Nothing runs twice on later advances.
    api.advance(7 * 24 * 3600).await;
    assert_eq!(api.notifications("u-boss").await.len(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_before_the_day_was_over_no_notification_run_cancelled() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let r = api
        .robot(json!({"stage_id": "new", "type": "notify_supervisor",
            "delay": {"mode": "after", "amount": 1, "unit": "days"},
            "settings": {"text": "still here: {{title}}"}}))
        .await;
    let item = api.deal("new", 100.0).await;
    api.advance(5 * 3600).await;
    api.move_to(&item, "prep").await;
    api.advance(2 * 24 * 3600).await;

    assert!(api.notifications("u-boss").await.is_empty());
    let runs = api.runs(&item).await;
    let run = run_of(&runs, &r);
    assert_eq!(run["status"], "cancelled", "{run:#}");
    assert!(
        run["reason"].as_str().unwrap().contains("left stage 'new'"),
        "{run:#}"
    );
    assert_eq!(run["finished_at"], "2026-11-23T13:44:00Z");
    assert_eq!(
        server.runtime.backlog().await.unwrap().jobs,
        0,
        "the timer was tidied up"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn design_task_completed_through_the_api_moves_the_deal_and_won_completes_tasks() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let task_robot = api.robot(json!({"stage_id": "prep", "type": "create_task",
        "settings": {"title": "Prepare a design project for {{title}}", "description": "Budget {{amount}} {{currency}}",
            "responsible_id": "u-dina", "accomplice_ids": ["u-dan"], "deadline": {"amount": 3, "unit": "days"}}})).await;
    api.robot(json!({"stage_id": "prep", "type": "add_history_record",
        "settings": {"text": "Deal {{title}} needs a design project", "author_id": "supervisor"}}))
        .await;
    api.robot(json!({"stage_id": "won", "type": "complete_task",
        "settings": {"pipeline_id": "deals", "stage_ids": ["prep"]}}))
        .await;
    api.trigger(json!({"stage_id": "presentation", "type": "task_status", "name": "Design ready",
        "execute_as": "u-boss",
        "settings": {"status": "completed", "task_filter": {"field": "title", "op": "contains", "value": "design project"}}}))
        .await;

    let item = api.deal("new", 50000.0).await;
    api.move_to(&item, "prep").await;
    let tasks = api.get(&format!("/v1/tasks?item_id={item}")).await["tasks"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(
        task["title"],
        "Prepare a design project for Website for Romashka"
    );
    assert_eq!(task["responsible_id"], "u-dina");
    assert_eq!(task["deadline"], "2026-11-26T08:44:00Z");
    assert_eq!(
        run_of(&api.runs(&item).await, &task_robot)["outputs"]["task_id"],
        task["id"]
    );
    let info: Vec<_> = api
        .timeline(&item)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "info")
        .collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["author_id"], "u-boss");

    // The designer completes the task → the trigger moves the deal.
    api.advance(2 * 3600).await;
    let task_id = task["id"].as_str().unwrap();
    let done = api
        .patch(
            &format!("/v1/tasks/{task_id}"),
            json!({"status": "completed", "author_id": "u-dina"}),
        )
        .await;
    assert_eq!(done["status"], "completed");
    api.settle().await;
    let moved = api.get(&format!("/v1/items/{item}")).await;
    assert_eq!(moved["stage_id"], "presentation");
    let last_move = api
        .timeline(&item)
        .await
        .into_iter()
        .rfind(|e| e["kind"] == "stage_changed")
        .unwrap();
    assert_eq!(last_move["author_id"], "u-boss");
    let trig = api
        .runs(&item)
        .await
        .into_iter()
        .find(|r| r["kind"] == "trigger")
        .unwrap();
    assert_eq!(trig["status"], "done");

    // A second deal reaches Won with its design task still open: completed by the robot.
    let d2 = api.deal("prep", 10.0).await;
    let t2 = api.get(&format!("/v1/tasks?item_id={d2}")).await;
    assert_eq!(t2["tasks"][0]["status"], "pending");
    api.move_to(&d2, "won").await;
    let t2 = api.get(&format!("/v1/tasks?item_id={d2}")).await;
    assert_eq!(t2["tasks"][0]["status"], "completed");
    assert!(
        api.timeline(&d2)
            .await
            .iter()
            .any(|e| e["kind"] == "task_completed")
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_chat_with_the_lawyer_only_for_big_deals() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let chat = api
        .robot(
            json!({"stage_id": "presentation", "type": "create_group_chat",
            "settings": {"name": "Deal {{title}}", "member_ids": ["responsible", "u-dina"]}}),
        )
        .await;
    let members = api.robot(json!({"stage_id": "presentation", "type": "add_chat_members", "after_previous": true,
        "condition": {"field": "amount", "op": "gt", "value": 10000},
        "settings": {"chat_id": format!("{{{{robot.{chat}.chat_id}}}}"), "user_ids": ["u-lara"], "show_history": true}})).await;
    let msg = api.robot(json!({"stage_id": "presentation", "type": "send_chat_message", "after_previous": true,
        "settings": {"chat_id": format!("{{{{robot.{chat}.chat_id}}}}"), "sender_id": "u-boss", "message_type": "important",
            "text": "New project {{title}} for {{amount}} {{currency}}"}})).await;

    let big = api.deal("new", 25000.0).await;
    api.move_to(&big, "presentation").await;
    let small = api.deal("new", 500.0).await;
    api.move_to(&small, "presentation").await;

    for (item, amount, lawyer) in [(&big, 25000, true), (&small, 500, false)] {
        let runs = api.runs(item).await;
        let chat_id = run_of(&runs, &chat)["outputs"]["chat_id"]
            .as_str()
            .unwrap()
            .to_string();
        let c = api.get(&format!("/v1/chats/{chat_id}")).await;
        let ids: Vec<&str> = c["member_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ids.contains(&"u-lara"), lawyer, "{c:#}");
        assert!(ids.contains(&"u-anna") && ids.contains(&"u-dina"));
        let messages = c["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0]["text"],
            format!("New project Website for Romashka for {amount} RUB")
        );
        assert_eq!(messages[0]["message_type"], "important");
        assert_eq!(
            run_of(&runs, &msg)["outputs"]["message_id"],
            messages[0]["id"]
        );
        let m = run_of(&runs, &members);
        if lawyer {
            assert_eq!(m["status"], "done");
        } else {
            assert_eq!(m["status"], "skipped");
            assert!(m["reason"].as_str().unwrap().contains("condition"));
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_activity_is_due_in_working_hours() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    api.robot(json!({"stage_id": "new", "type": "plan_activity",
        "settings": {"description": "Call the client", "activity_type": "call",
            "deadline": {"amount": 2, "unit": "hours"}, "respect_working_hours": true}}))
        .await;
    let activities = |item: String| {
        let api = api.clone();
        async move {
            api.get(&format!("/v1/activities?item_id={item}")).await["activities"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    // 11:44 Moscow + 2 working hours → 13:44
    let a = api.deal("new", 1.0).await;
    let acts = activities(a.clone()).await;
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0]["deadline"], "2026-11-23T10:44:00Z");
    assert_eq!(acts[0]["activity_type"], "call");

    // 17:30 Moscow + 2 working hours → 10:30 the next working day
    assert_eq!(api.advance(20_760).await, "2026-11-23T14:30:00Z");
    let b = api.deal("new", 1.0).await;
    assert_eq!(
        activities(b.clone()).await[0]["deadline"],
        "2026-11-24T07:30:00Z"
    );

    // Friday 17:30 → Monday 10:30
    api.advance(4 * 24 * 3600).await;
    let c = api.deal("new", 1.0).await;
    assert_eq!(
        activities(c.clone()).await[0]["deadline"],
        "2026-11-30T07:30:00Z"
    );

    // Leaving the stage completes it (auto_complete is on by default).
    api.move_to(&c, "prep").await;
    assert_eq!(activities(c).await[0]["completed"], true);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_other() {
    let (_dir, server, acme, globex) = started(MONDAY_1144_MSK).await;
    let robot = acme
        .robot(json!({"stage_id": "prep", "type": "create_task",
            "settings": {"title": "Design for {{title}}", "responsible_id": "u-dina"}}))
        .await;
    let item = acme.deal("prep", 10.0).await;
    let task = acme.get(&format!("/v1/tasks?item_id={item}")).await["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    for (method, path, body) in [
        (Method::GET, format!("/v1/items/{item}"), None),
        (
            Method::PATCH,
            format!("/v1/items/{item}"),
            Some(json!({"title": "stolen"})),
        ),
        (Method::DELETE, format!("/v1/items/{item}"), None),
        (Method::GET, format!("/v1/items/{item}/runs"), None),
        (Method::GET, format!("/v1/items/{item}/timeline"), None),
        (Method::GET, format!("/v1/tasks/{task}"), None),
        (
            Method::PATCH,
            format!("/v1/tasks/{task}"),
            Some(json!({"status": "completed"})),
        ),
        (Method::GET, "/v1/pipelines/deals".to_string(), None),
        (
            Method::GET,
            format!("/v1/pipelines/deals/robots/{robot}"),
            None,
        ),
        (Method::GET, "/v1/users/u-anna".to_string(), None),
        (Method::GET, "/v1/departments/sales".to_string(), None),
    ] {
        let (status, body) = globex.call(method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path} as globex → {status}: {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    // An event naming acme's item is not accepted for globex either.
    let (status, _) = globex
        .call(
            Method::POST,
            "/v1/events",
            Some(json!({"type": "incoming_call", "item_id": item})),
        )
        .await;
    assert!(status == 404 || status == 422, "{status}");
    // Globex's own world is empty: it has no pipeline "deals" at all.
    let (status, _) = globex
        .call(Method::GET, "/v1/pipelines/deals/robots", None)
        .await;
    assert_eq!(status, 404);
    assert!(globex.notifications("u-boss").await.is_empty());
    // Nothing changed for acme.
    let it = acme.get(&format!("/v1/items/{item}")).await;
    assert_eq!(it["title"], "Website for Romashka");
    assert_eq!(it["version"], 1);
    assert_eq!(
        acme.get(&format!("/v1/tasks/{task}")).await["status"],
        "pending"
    );
    // No key / unknown key → 401.
    let anonymous = Api::new(&server.base_url(), "nope");
    assert_eq!(
        anonymous
            .call(Method::GET, &format!("/v1/items/{item}"), None)
            .await
            .0,
        401
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_twice_has_one_effect() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let trig = api
        .trigger(json!({"stage_id": "prep", "type": "incoming_call", "name": "Called us"}))
        .await;
    let comment = api
        .robot(json!({"stage_id": "prep", "type": "add_timeline_comment",
            "settings": {"text": "Client called about {{title}}"}}))
        .await;
    let item = api.deal("new", 1.0).await;

    let event = json!({"type": "incoming_call", "client": {"phone": "+7 495 123 45 67"},
        "data": {"duration": 30}, "idempotency_key": "call-42"});
    let (s1, a) = api
        .call(Method::POST, "/v1/events", Some(event.clone()))
        .await;
    let (s2, b) = api.call(Method::POST, "/v1/events", Some(event)).await;
    assert_eq!((s1, s2), (202, 202), "{a} {b}");
    assert_eq!(a["event_id"], b["event_id"]);
    api.settle().await;

    let it = api.get(&format!("/v1/items/{item}")).await;
    assert_eq!(it["stage_id"], "prep");
    assert_eq!(it["visit"], 2);
    let runs = api.runs(&item).await;
    let evaluations: Vec<_> = runs.iter().filter(|r| r["kind"] == "trigger").collect();
    assert_eq!(evaluations.len(), 1, "{runs:#?}");
    assert_eq!(evaluations[0]["trigger_id"], trig.as_str());
    let comment_runs: Vec<_> = runs.iter().filter(|r| r["robot_id"] == comment).collect();
    assert_eq!(comment_runs.len(), 1);
    assert_eq!(comment_runs[0]["status"], "done");
    let comments = api
        .timeline(&item)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "comment")
        .count();
    assert_eq!(comments, 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_paths_answer_in_the_common_shape_and_change_nothing() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let item = api.deal("new", 1.0).await;
    let path = format!("/v1/items/{item}");
    let http = reqwest::Client::new();
    let url = format!("{}{path}", server.base_url());

    // 400: malformed JSON, wrong types.
    let r = http
        .patch(&url)
        .bearer_auth("key-acme")
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"]["code"].is_string() && v["error"]["message"].is_string());
    let (s, v) = api
        .call(Method::PATCH, &path, Some(json!({"amount": "lots"})))
        .await;
    assert_eq!(s, 400, "{v}");
    // 401
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // 404
    let (s, _) = api.call(Method::GET, "/v1/items/item-nope", None).await;
    assert_eq!(s, 404);
    // 409 on a stale If-Match
    let (s, v) = api
        .call_with(
            Method::PATCH,
            &path,
            Some(json!({"title": "new title"})),
            &[("If-Match", "7")],
        )
        .await;
    assert_eq!(s, 409, "{v}");
    // 413 over 256 KiB
    let big = "x".repeat(300 * 1024);
    let (s, _) = api
        .call(Method::PATCH, &path, Some(json!({ "title": big })))
        .await;
    assert_eq!(s, 413);
    // 422 naming the field
    let (s, v) = api
        .call(Method::PATCH, &path, Some(json!({"stage_id": "nowhere"})))
        .await;
    assert_eq!(s, 422, "{v}");
    let details = v["error"]["details"].as_array().unwrap();
    assert!(details.iter().any(|d| d["field"] == "stage_id"), "{v}");
    let (s, v) = api
        .call(
            Method::POST,
            "/v1/pipelines/deals/robots",
            Some(json!({"stage_id": "new", "type": "notify_supervisor",
                "settings": {"text": "{{no.such.placeholder}}"}})),
        )
        .await;
    assert_eq!(s, 422, "{v}");

    // Nothing changed.
    api.settle().await;
    let it = api.get(&path).await;
    assert_eq!(it["version"], 1);
    assert_eq!(it["stage_id"], "new");
    assert_eq!(it["title"], "Website for Romashka");
    assert!(
        api.get("/v1/pipelines/deals/robots").await["robots"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A correct If-Match works.
    let (s, v) = api
        .call_with(
            Method::PATCH,
            &path,
            Some(json!({"title": "new title"})),
            &[("If-Match", "1")],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 2);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_clock_runs_immediate_robots_without_being_asked_and_hides_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let server = crm_automation::Server::start(crm_automation::ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.path().to_path_buf(),
        clock: crm_automation::ClockMode::System,
        start_at: None,
        demo: false,
        api_keys: Some(KEYS.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let api = Api::new(&server.base_url(), "key-acme");
    company(&api).await;
    for n in 0..5 {
        api.robot(json!({"stage_id": "prep", "type": "add_timeline_comment",
            "settings": {"text": format!("comment {n} on {{{{title}}}}")}}))
            .await;
    }
    let created = api
        .post(
            "/v1/items",
            json!({"pipeline_id": "deals", "title": "Fast", "responsible_id": "u-anna"}),
        )
        .await;
    let item = created["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    api.patch(&format!("/v1/items/{item}"), json!({"stage_id": "prep"}))
        .await;
    // No clock advance exists here: the worker must pick the work up by itself.
    let mut comments = 0;
    while started.elapsed() < std::time::Duration::from_secs(10) {
        comments = api
            .timeline(item)
            .await
            .iter()
            .filter(|e| e["kind"] == "comment")
            .count();
        if comments == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(comments, 5);
    let (s, _) = api.call(Method::GET, "/v1/clock", None).await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(
            Method::POST,
            "/v1/clock/advance",
            Some(json!({"seconds": 60})),
        )
        .await;
    assert_eq!(s, 404);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loads_idempotently_and_its_walkthrough_works() {
    let dir = tempfile::tempdir().unwrap();
    let config = crm_automation::ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.path().to_path_buf(),
        clock: crm_automation::ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        demo: true,
        api_keys: None,
        ..Default::default()
    };
    let first = crm_automation::Server::start(config.clone()).await.unwrap();
    let loaded = first.demo.clone().unwrap();
    assert!(loaded.automation_created);
    assert_eq!((loaded.robots, loaded.triggers), (8, 1));
    let key = first.keys.key.clone().expect("generated now");
    let admin = first.admin.key.clone().expect("generated now");
    assert_eq!(
        first.keys.source,
        crm_automation::keys::KeySource::Generated
    );
    first.shutdown().await.unwrap();

    let server = crm_automation::Server::start(config).await.unwrap();
    let again = server.demo.clone().unwrap();
    assert!(!again.automation_created);
    assert_eq!((again.robots, again.triggers), (8, 1));
    assert_eq!(
        server.keys.key, None,
        "the generated key is not shown again"
    );
    assert_eq!(
        server.keys.tenant, "default",
        "the demo's tenant is the stored key's"
    );
    let api = Api::new(&server.base_url(), &key).with_admin_key(&admin);

    // The walk-through printed by the banner.
    let banner = crm_automation::demo::what_to_try(&server.base_url(), &key, Some(&admin));
    assert!(banner.contains(&key) && banner.contains("/v1/clock/advance"));
    assert!(banner.contains(&admin));
    let item = api
        .post(
            "/v1/items",
            json!({"pipeline_id": "deals", "title": "Website for Romashka", "amount": 25000,
                "currency": "RUB", "responsible_id": "u-anna",
                "client": {"name": "Romashka LLC", "phone": "+7 495 123-45-67"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let idle = api
        .post(
            "/v1/items",
            json!({"pipeline_id": "deals", "title": "Logo for Vasilek", "amount": 3000,
                "responsible_id": "u-max"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.settle().await;
    let acts = api.get(&format!("/v1/activities?item_id={item}")).await;
    assert_eq!(acts["activities"][0]["deadline"], "2026-11-23T10:44:00Z");
    api.move_to(&item, "prep").await;
    let task = api.get(&format!("/v1/tasks?item_id={item}")).await["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.patch(
        &format!("/v1/tasks/{task}"),
        json!({"status": "completed", "author_id": "u-dina"}),
    )
    .await;
    api.settle().await;
    assert_eq!(
        api.get(&format!("/v1/items/{item}")).await["stage_id"],
        "presentation"
    );
    let runs = api.runs(&item).await;
    let chat_id = runs
        .iter()
        .find_map(|r| r["outputs"]["chat_id"].as_str())
        .unwrap()
        .to_string();
    let chat = api.get(&format!("/v1/chats/{chat_id}")).await;
    assert!(
        chat["member_ids"]
            .as_array()
            .unwrap()
            .contains(&json!("u-lara"))
    );
    assert_eq!(chat["messages"].as_array().unwrap().len(), 1);

    api.advance(86_400).await;
    let n = api.notifications("u-boss").await;
    assert_eq!(n.len(), 1, "only the deal left in New orders: {n:#?}");
    assert_eq!(
        n[0]["text"],
        "Max Manager has not processed Logo for Vasilek"
    );
    let cancelled = api
        .runs(&item)
        .await
        .into_iter()
        .find(|r| r["robot_type"] == "notify_supervisor")
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let _ = idle;
    server.shutdown().await.unwrap();
}
