//! The endpoints of API.md answer with the documented paths, envelopes and
//! statuses; the OpenAPI document lists them all.

use crate::common;

use common::*;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn directory_round_trip() {
    let h = harness();
    h.seed(KEY_A).await;
    let user = h.get(KEY_A, "/v1/users/u-anna").await;
    assert_eq!(user.status, StatusCode::OK);
    assert_eq!(user.body["id"], "u-anna");
    assert_eq!(user.body["department_id"], "sales");
    assert_eq!(user.body["time_zone"], "Europe/Moscow");
    let dep = h.get(KEY_A, "/v1/departments/sales").await;
    assert_eq!(dep.status, StatusCode::OK);
    assert_eq!(dep.body["head_id"], "u-boss");
    let pipeline = h.get(KEY_A, "/v1/pipelines/sales").await;
    assert_eq!(pipeline.status, StatusCode::OK);
    assert_eq!(pipeline.body["stages"][0]["id"], "new");
    assert_eq!(pipeline.body["stages"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn robots_crud_and_copy() {
    let h = harness();
    h.seed(KEY_A).await;
    let created = h.post(KEY_A, "/v1/pipelines/sales/robots", robot()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.headers["location"],
        format!("/v1/pipelines/sales/robots/{id}").as_str()
    );
    assert_eq!(created.body["type"], "notify_supervisor");
    assert_eq!(created.body["stage_id"], "new");

    let list = h.get(KEY_A, "/v1/pipelines/sales/robots").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["robots"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["robots"][0]["id"], id.as_str());

    let path = format!("/v1/pipelines/sales/robots/{id}");
    let mut changed = robot();
    changed["name"] = json!("Escalate later");
    let updated = h.put(KEY_A, &path, changed).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["name"], "Escalate later");
    assert_eq!(h.get(KEY_A, &path).await.body, updated.body);

    let copy = h
        .post(KEY_A, &format!("{path}/copy"), json!({"stage_id": "talks"}))
        .await;
    assert_eq!(copy.status, StatusCode::CREATED, "{}", copy.body);
    assert_eq!(copy.body["stage_id"], "talks");
    assert_ne!(copy.body["id"], id.as_str());
    let copy_id = copy.body["id"].as_str().unwrap();
    assert_eq!(
        copy.headers["location"],
        format!("/v1/pipelines/sales/robots/{copy_id}").as_str()
    );

    let bad_copy = h
        .post(
            KEY_A,
            &format!("{path}/copy"),
            json!({"stage_id": "nowhere"}),
        )
        .await;
    assert_eq!(bad_copy.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_copy.fields().contains(&"stage_id".to_string()));

    let deleted = h.delete(KEY_A, &path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.raw.is_empty());
    assert_eq!(h.get(KEY_A, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.delete(KEY_A, &path).await.status, StatusCode::NOT_FOUND);
    let list = h.get(KEY_A, "/v1/pipelines/sales/robots").await;
    assert_eq!(list.body["robots"].as_array().unwrap().len(), 1);

    let missing = h.post(KEY_A, "/v1/pipelines/nope/robots", robot()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}

#[tokio::test]
async fn triggers_crud_and_copy() {
    let h = harness();
    h.seed(KEY_A).await;
    let created = h
        .post(KEY_A, "/v1/pipelines/sales/triggers", trigger())
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["type"], "incoming_call");

    let list = h.get(KEY_A, "/v1/pipelines/sales/triggers").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["triggers"][0]["id"], id.as_str());

    let path = format!("/v1/pipelines/sales/triggers/{id}");
    let mut changed = trigger();
    changed["name"] = json!("Rang");
    let updated = h.put(KEY_A, &path, changed).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(h.get(KEY_A, &path).await.body["name"], "Rang");

    let copy = h
        .post(KEY_A, &format!("{path}/copy"), json!({"stage_id": "won"}))
        .await;
    assert_eq!(copy.status, StatusCode::CREATED, "{}", copy.body);
    assert_eq!(copy.body["stage_id"], "won");

    let mut bad = trigger();
    bad["execute_as"] = json!("u-ghost");
    let r = h.put(KEY_A, &path, bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["execute_as"]);
    assert_eq!(h.get(KEY_A, &path).await.body["execute_as"], "u-boss");

    assert_eq!(h.delete(KEY_A, &path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get(KEY_A, &path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn items_lifecycle() {
    let h = harness();
    h.seed(KEY_A).await;
    let created = h.post(KEY_A, "/v1/items", item()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["stage_id"], "new");
    assert_eq!(created.headers["etag"], "\"1\"");
    let path = format!("/v1/items/{id}");
    assert_eq!(created.headers["location"], path.as_str());

    let got = h.get(KEY_A, &path).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, created.body);
    assert_eq!(got.headers["etag"], "\"1\"");

    let moved = h
        .patch(KEY_A, &path, json!({"stage_id": "talks"}), None)
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["stage_id"], "talks");
    assert_eq!(moved.body["version"], 2);

    let timeline = h.get(KEY_A, &format!("{path}/timeline")).await;
    assert_eq!(timeline.status, StatusCode::OK);
    let kinds: Vec<&str> = timeline.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"stage_changed"), "{kinds:?}");

    let runs = h.get(KEY_A, &format!("{path}/runs")).await;
    assert_eq!(runs.status, StatusCode::OK);
    assert!(runs.body["runs"].is_array(), "{}", runs.body);

    let deleted = h.delete(KEY_A, &path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(h.get(KEY_A, &path).await.status, StatusCode::NOT_FOUND);

    let r = h.get(KEY_A, "/v1/items/nope/timeline").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn creating_an_item_in_an_unknown_pipeline_is_422() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut body = item();
    body["pipeline_id"] = json!("nope");
    let r = h.post(KEY_A, "/v1/items", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), ["pipeline_id"]);
    let mut body = item();
    body["responsible_id"] = json!("u-ghost");
    let r = h.post(KEY_A, "/v1/items", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), ["responsible_id"]);
}

#[tokio::test]
async fn events_are_accepted_with_202() {
    let h = harness();
    h.seed(KEY_A).await;
    let item = h.create_item(KEY_A).await;
    let body = json!({"type": "incoming_call", "item_id": item["id"], "data": {},
                      "idempotency_key": "call-1"});
    let first = h.post(KEY_A, "/v1/events", body.clone()).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let event_id = first.body["event_id"].as_str().unwrap();
    assert!(!event_id.is_empty());
    let again = h.post(KEY_A, "/v1/events", body).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["event_id"], event_id);

    let by_client = h
        .post(
            KEY_A,
            "/v1/events",
            json!({"type": "incoming_call", "client": {"phone": "+70000000000"}}),
        )
        .await;
    assert_eq!(by_client.status, StatusCode::ACCEPTED, "{}", by_client.body);

    let unknown = h
        .post(
            KEY_A,
            "/v1/events",
            json!({"type": "teleport", "item_id": item["id"]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.fields(), ["type"]);

    let foreign = h
        .post(
            KEY_B,
            "/v1/events",
            json!({"type": "incoming_call", "item_id": item["id"]}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn work_record_lists_use_their_envelopes() {
    let h = harness();
    h.seed(KEY_A).await;
    let item = h.create_item(KEY_A).await;
    let id = item["id"].as_str().unwrap();
    let cases: [(String, &str); 12] = [
        (format!("/v1/tasks?item_id={id}"), "tasks"),
        (format!("/v1/activities?item_id={id}"), "activities"),
        ("/v1/tasks?responsible_id=u-nobody".to_string(), "tasks"),
        (
            "/v1/activities?responsible_id=u-nobody".to_string(),
            "activities",
        ),
        (
            "/v1/notifications?user_id=u-boss".to_string(),
            "notifications",
        ),
        ("/v1/messages?user_id=u-anna".to_string(), "messages"),
        ("/v1/feed".to_string(), "posts"),
        ("/v1/outbox".to_string(), "messages"),
        ("/v1/outbox?channel=sms".to_string(), "messages"),
        ("/v1/outbox?channel=call".to_string(), "messages"),
        ("/v1/outbox?channel=messenger".to_string(), "messages"),
        ("/v1/audiences".to_string(), "audiences"),
    ];
    for (path, key) in cases {
        let r = h.get(KEY_A, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(r.body, json!({ key: [], "next_cursor": null }), "{path}");
    }
    assert_eq!(
        h.get(KEY_A, "/v1/outbox?channel=email").await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.get(KEY_A, "/v1/outbox?channel=fax").await.status,
        StatusCode::BAD_REQUEST
    );
    for path in [
        "/v1/tasks/task-404",
        "/v1/chats/chat-404",
        "/v1/audiences/facebook/nope/members",
        "/v1/audiences/myspace/x/members",
    ] {
        let r = h.get(KEY_A, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.error_code(), "not_found");
    }
    let r = h
        .patch(
            KEY_A,
            "/v1/tasks/task-404",
            json!({"status": "completed"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .patch(KEY_A, "/v1/tasks/task-404", json!({"status": "done"}), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fields(), ["status"]);
}

#[tokio::test]
async fn openapi_is_public_and_lists_every_endpoint() {
    let h = harness();
    let r = h
        .call_with(Method::GET, "/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    let doc = r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected: &[(&str, &[&str])] = &[
        ("/v1/health", &["get"]),
        ("/v1/openapi.json", &["get"]),
        ("/v1/catalogue", &["get"]),
        ("/v1/clock", &["get"]),
        ("/v1/clock/advance", &["post"]),
        ("/v1/departments/{id}", &["get", "put"]),
        ("/v1/users/{id}", &["get", "put"]),
        ("/v1/directory", &["put"]),
        ("/v1/pipelines/{id}", &["get", "put"]),
        ("/v1/pipelines/{id}/robots", &["get", "post"]),
        (
            "/v1/pipelines/{id}/robots/{robot_id}",
            &["get", "put", "delete"],
        ),
        ("/v1/pipelines/{id}/robots/{robot_id}/copy", &["post"]),
        ("/v1/pipelines/{id}/triggers", &["get", "post"]),
        (
            "/v1/pipelines/{id}/triggers/{trigger_id}",
            &["get", "put", "delete"],
        ),
        ("/v1/pipelines/{id}/triggers/{trigger_id}/copy", &["post"]),
        ("/v1/items", &["get", "post"]),
        ("/v1/items/{id}", &["get", "patch", "delete"]),
        ("/v1/items/{id}/timeline", &["get"]),
        ("/v1/items/{id}/runs", &["get"]),
        ("/v1/events", &["post"]),
        ("/v1/events/{id}", &["get"]),
        ("/v1/tasks", &["get"]),
        ("/v1/tasks/{id}", &["get", "patch"]),
        ("/v1/activities", &["get"]),
        ("/v1/notifications", &["get"]),
        ("/v1/chats/{id}", &["get"]),
        ("/v1/messages", &["get"]),
        ("/v1/feed", &["get"]),
        ("/v1/outbox", &["get"]),
        ("/v1/outbox/{id}/retry", &["post"]),
        ("/v1/document-templates", &["get", "post"]),
        ("/v1/document-templates/{id}", &["get", "put", "delete"]),
        ("/v1/document-templates/{id}/file", &["get"]),
        ("/v1/document-placeholders", &["get"]),
        ("/v1/numerators", &["get", "post"]),
        ("/v1/numerators/{id}", &["get", "put", "delete"]),
        ("/v1/documents", &["get"]),
        ("/v1/documents/{id}", &["get"]),
        ("/v1/documents/{id}/file", &["get"]),
        ("/v1/me", &["get"]),
        ("/v1/users", &["get"]),
        ("/v1/departments", &["get"]),
        ("/v1/chats", &["get"]),
        ("/v1/items/run-summary", &["get"]),
        ("/v1/items/{id}/runs/{run_id}/run-now", &["post"]),
        ("/v1/items/{id}/stop-automation", &["post"]),
        ("/v1/pipelines/{id}/stages/{stage_id}/robot-order", &["put"]),
        ("/v1/reports/stage-time", &["get"]),
        ("/v1/reports/conversion", &["get"]),
        ("/v1/reports/robots", &["get"]),
        ("/v1/audiences", &["get"]),
        ("/v1/audiences/{network}/{audience_id}/members", &["get"]),
        ("/v1/webhook-secret", &["get"]),
        ("/v1/webhook-secret/rotate", &["post"]),
        ("/v1/rest-webhooks", &["get", "post"]),
        ("/v1/rest-webhooks/{id}", &["delete"]),
        ("/v1/robot-types", &["get", "post"]),
        ("/v1/robot-types/{code}", &["get", "put", "delete"]),
        ("/v1/robot-events/{token}", &["post"]),
        ("/rest/{user_id}/{secret}/{method}", &["get", "post"]),
        ("/v1/forms", &["get", "post"]),
        ("/v1/forms/{id}", &["get", "put", "delete"]),
        ("/v1/site-keys", &["get", "post"]),
        ("/v1/site-keys/{id}", &["delete"]),
        (
            "/v1/payment-providers/{provider}",
            &["get", "put", "delete"],
        ),
        ("/f/{form_id}", &["get", "post"]),
        ("/f/{form_id}/embed.js", &["get"]),
        ("/t/tracker.js", &["get"]),
        ("/t/v", &["post"]),
        ("/v1/webhooks/payments/{provider}/{endpoint_id}", &["post"]),
        ("/t/o/{token}", &["get"]),
        ("/t/c/{token}", &["get"]),
        ("/v1/inbound-email", &["get"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), expected.len(), "{:?}", paths.keys());
    for (path, methods) in expected {
        let item = &paths.get(*path).unwrap_or_else(|| panic!("{path} missing"));
        let mut listed: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .filter(|k| ["get", "put", "post", "patch", "delete"].contains(k))
            .collect();
        listed.sort();
        let mut want = methods.to_vec();
        want.sort();
        assert_eq!(listed, want, "{path}");
    }

    let statuses = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let create_item = statuses("/v1/items", "post");
    for s in ["201", "400", "401", "413", "415", "422", "503"] {
        assert!(
            create_item.contains(&s.to_string()),
            "POST /v1/items lacks {s}"
        );
    }
    let patch_item = statuses("/v1/items/{id}", "patch");
    for s in ["200", "400", "401", "404", "409", "422"] {
        assert!(
            patch_item.contains(&s.to_string()),
            "PATCH /v1/items/{{id}} lacks {s}"
        );
    }
    assert!(statuses("/v1/items/{id}", "delete").contains(&"204".to_string()));
    assert!(statuses("/v1/events", "post").contains(&"202".to_string()));
    assert!(
        statuses("/v1/pipelines/{id}/robots/{robot_id}/copy", "post").contains(&"201".to_string())
    );
    assert!(statuses("/v1/clock", "get").contains(&"404".to_string()));
    assert!(statuses("/v1/tasks", "get").contains(&"400".to_string()));

    let params = |path: &str, method: &str| -> Vec<(String, String)> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        (
                            p["name"].as_str().unwrap().to_string(),
                            p["in"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let p = params("/v1/items/{id}", "patch");
    assert!(p.contains(&("id".into(), "path".into())), "{p:?}");
    assert!(p.contains(&("If-Match".into(), "header".into())), "{p:?}");
    let p = params("/v1/pipelines/{id}/triggers/{trigger_id}/copy", "post");
    assert!(p.contains(&("trigger_id".into(), "path".into())), "{p:?}");
    let paged = |first: &str| -> Vec<(String, String)> {
        [first, "limit", "cursor"]
            .iter()
            .map(|n| (n.to_string(), "query".to_string()))
            .collect()
    };
    let by_item_or_user = |mut p: Vec<(String, String)>| {
        p.insert(1, ("responsible_id".to_string(), "query".to_string()));
        p
    };
    let p = params("/v1/tasks", "get");
    assert_eq!(p, by_item_or_user(paged("item_id")));
    let p = params("/v1/activities", "get");
    assert_eq!(p, by_item_or_user(paged("item_id")));
    let p = params("/v1/outbox", "get");
    let mut by_channel_and_status = paged("channel");
    by_channel_and_status.insert(1, ("status".to_string(), "query".to_string()));
    assert_eq!(p, by_channel_and_status);

    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer <key>`"})
    );
    assert_eq!(
        doc["paths"]["/v1/items"]["post"]["security"],
        json!([{"bearer": []}])
    );
    let health_security = &doc["paths"]["/v1/health"]["get"]["security"];
    assert_eq!(health_security, &json!([{}]));
}

#[tokio::test]
async fn the_catalogue_describes_every_type_well_enough_to_build_a_robot_from_it() {
    let h = harness();
    h.seed(KEY_A).await;
    let no_key = h
        .call_with(Method::GET, "/v1/catalogue", None, None, &[])
        .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    let c = h.get(KEY_A, "/v1/catalogue").await;
    assert_eq!(c.status, StatusCode::OK);
    let robots = c.body["robots"].as_array().unwrap();
    let triggers = c.body["triggers"].as_array().unwrap();
    assert_eq!((robots.len(), triggers.len()), (27, 14));
    // Each type says where the pickers show it, grouped as in the articles.
    let group = |list: &[serde_json::Value], name: &str| {
        list.iter().find(|e| e["name"] == name).unwrap()["group"].clone()
    };
    assert_eq!(group(robots, "create_task"), "employee_control");
    assert_eq!(group(robots, "send_chat_message"), "employee_alerts");
    assert_eq!(group(robots, "email_client"), "client_communication");
    assert_eq!(group(robots, "change_stage"), "item_management");
    assert_eq!(group(robots, "create_document"), "documents");
    assert_eq!(group(robots, "call_client"), "client_communication");
    assert_eq!(group(robots, "message_client"), "client_communication");
    assert_eq!(group(robots, "add_to_audience"), "client_communication");
    assert_eq!(group(triggers, "incoming_message"), "client_communication");
    assert_eq!(group(robots, "call_webhook"), "integrations");
    assert_eq!(group(triggers, "email_read"), "client_communication");
    assert_eq!(group(triggers, "invoice_paid"), "payments");
    assert_eq!(group(triggers, "webhook"), "integrations");
    // Every robot type whose required settings are all templates can be
    // created from its entry alone: fill each required template with text.
    let mut made = 0;
    for r in robots {
        let schema = &r["settings_schema"];
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        let templates: Vec<&str> = r["templates"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x.as_str())
            .collect();
        if !required.iter().all(|k| templates.contains(k)) {
            continue;
        }
        let settings: serde_json::Map<String, serde_json::Value> = required
            .iter()
            .map(|k| (k.to_string(), json!("Deal {{title}}")))
            .collect();
        let body = json!({"stage_id": "new", "type": r["name"], "settings": settings});
        let created = h.post(KEY_A, "/v1/pipelines/sales/robots", body).await;
        // Some types need a recipient on top; that is a 422, never a 400.
        assert!(
            matches!(
                created.status,
                StatusCode::CREATED | StatusCode::UNPROCESSABLE_ENTITY
            ),
            "{}: {} {}",
            r["name"],
            created.status,
            created.body
        );
        made += usize::from(created.status == StatusCode::CREATED);
    }
    assert!(
        made >= 8,
        "only {made} robot types could be made from the catalogue"
    );
    let field_changed = triggers
        .iter()
        .find(|t| t["name"] == "field_changed")
        .unwrap();
    assert_eq!(field_changed["raised_by"], "engine");
    assert_eq!(
        field_changed["settings_schema"]["required"],
        json!(["fields"])
    );
}
