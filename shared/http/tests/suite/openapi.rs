//! The OpenAPI document types every body: no request body or 2xx response
//! is a bare object, the annotations' examples validate against their
//! schemas, request bodies show `deny_unknown_fields` as
//! `additionalProperties: false`, and what the server really answers
//! validates against what the document says it answers.

use crate::common;

use common::*;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

const PREFIX: &str = "#/components/schemas/";

fn doc() -> Value {
    crm_http::openapi()
}

fn schemas(doc: &Value) -> &Map<String, Value> {
    doc["components"]["schemas"].as_object().unwrap()
}

/// Follows `$ref`s to the component.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.strip_prefix(PREFIX).expect("a component reference");
            resolve(doc, &schemas(doc)[name])
        }
        None => schema,
    }
}

/// A schema that says nothing but "an object" (or nothing at all).
fn is_bare(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else {
        return true;
    };
    let shaping = [
        "properties",
        "additionalProperties",
        "oneOf",
        "anyOf",
        "allOf",
        "items",
        "enum",
        "const",
        "$ref",
    ];
    !shaping.iter().any(|k| map.contains_key(*k)) && map.get("type").is_none_or(|t| t == "object")
}

/// Every operation: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

/// A validator for `schema`, with the document's components resolvable.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("{schema}: {e}"))
}

fn assert_valid(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    let v = validator(doc, schema);
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {instance} does not match {schema}:\n{}",
        errors.join("\n")
    );
}

#[test]
fn every_request_body_and_success_response_is_typed() {
    let doc = doc();
    let mut bodies = 0;
    let mut responses = 0;
    for (method, path, op) in operations(&doc) {
        if let Some(body) = op.get("requestBody") {
            let schema = &body["content"]["application/json"]["schema"];
            assert!(
                !is_bare(resolve(&doc, schema)),
                "{method} {path}: bare request body {schema}"
            );
            bodies += 1;
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            if !status.starts_with('2') {
                continue;
            }
            let Some(content) = response.get("content") else {
                assert_eq!(status, "204", "{method} {path}: {status} without a body");
                continue;
            };
            if content.get("application/json").is_none() {
                // A file download: every content type is a binary string.
                for (ct, c) in content.as_object().unwrap() {
                    let s = resolve(&doc, &c["schema"]);
                    assert_eq!(
                        (&s["type"], &s["format"]),
                        (&json!("string"), &json!("binary")),
                        "{method} {path} {status} {ct}: {s}"
                    );
                }
                responses += 1;
                continue;
            }
            let schema = &content["application/json"]["schema"];
            assert!(
                !is_bare(resolve(&doc, schema)),
                "{method} {path} {status}: bare response {schema}"
            );
            responses += 1;
        }
    }
    assert!(bodies >= 14, "{bodies} request bodies");
    assert!(responses >= 35, "{responses} responses");
}

#[test]
fn every_reference_resolves_and_no_placeholder_is_left() {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    match (k.as_str(), c.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_string()),
                        _ => refs(c, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }
    let doc = doc();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let name = r.strip_prefix(PREFIX).unwrap_or_else(|| panic!("{r}"));
        assert!(schemas(&doc).contains_key(name), "dangling {r}");
    }
    for (name, schema) in schemas(&doc) {
        assert_ne!(
            schema["description"],
            crm_http::schemas::PLACEHOLDER,
            "{name} is still a placeholder"
        );
    }
}

#[test]
fn the_examples_validate_against_their_schemas() {
    let doc = doc();
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        let Some(body) = op.get("requestBody") else {
            continue;
        };
        let content = &body["content"]["application/json"];
        if let Some(example) = content.get("example") {
            assert_valid(
                &doc,
                &content["schema"],
                example,
                &format!("{method} {path}"),
            );
            checked += 1;
        }
    }
    assert!(checked >= 9, "{checked} examples");
}

#[test]
fn request_bodies_reject_unknown_keys_and_require_what_the_server_requires() {
    let doc = doc();
    let s = schemas(&doc);
    for name in [
        "DepartmentBody",
        "UserBody",
        "PipelineBody",
        "CopyBody",
        "NewItem",
        "ItemPatch",
        "EventBody",
        "TaskPatch",
        "AdvanceBody",
        "CreateTaskRobotBody",
        "CreateTaskRobotSettingsInput",
        "WebhookTriggerBody",
    ] {
        assert_eq!(s[name]["additionalProperties"], false, "{name}");
    }
    assert_eq!(
        s["NewItem"]["required"],
        json!(["pipeline_id", "title", "responsible_id"])
    );
    assert_eq!(s["TaskPatch"]["required"], json!(["status"]));
    assert_eq!(s["DepartmentBody"]["required"], json!(["name"]));
    // Typed per type: one schema per robot type, discriminated by `type`.
    let robot_body = &s["RobotBody"];
    assert_eq!(robot_body["discriminator"]["propertyName"], "type");
    // One per built-in type, and one for the applications' `app.<code>`.
    assert_eq!(
        robot_body["oneOf"].as_array().unwrap().len(),
        crm_core::robots::ROBOT_TYPES.len() + 1
    );
    assert_eq!(
        s["TriggerBody"]["oneOf"].as_array().unwrap().len(),
        crm_core::triggers::TRIGGER_TYPES.len()
    );
    assert_eq!(
        s["CreateTaskRobotBody"]["properties"]["settings"]["$ref"],
        "#/components/schemas/CreateTaskRobotSettingsInput"
    );
    assert_eq!(
        s["CreateTaskRobotBody"]["required"],
        json!(["stage_id", "type", "settings"])
    );
    // Without required settings, `settings` may be left out.
    assert_eq!(
        s["DeleteItemRobotBody"]["required"],
        json!(["stage_id", "type"])
    );
    // The settings are the catalogue's schema of the type.
    let catalogue = crm_core::catalogue::catalogue();
    let create_task = catalogue
        .robots
        .iter()
        .find(|e| e.name == "create_task")
        .unwrap();
    assert_eq!(
        s["CreateTaskRobotSettingsInput"]["required"],
        create_task.settings_schema["required"]
    );
    // Events take the types raised from outside only.
    let types = s["EventBody"]["properties"]["type"]["enum"]
        .as_array()
        .unwrap();
    assert!(types.contains(&json!("incoming_call")));
    assert!(!types.contains(&json!("task_status")));
}

#[test]
fn wrong_bodies_do_not_validate() {
    let doc = doc();
    let robot_body = json!({"$ref": "#/components/schemas/RobotBody"});
    let mut bad = robot();
    bad["settings"] = json!({"text": "x", "colour": "red"});
    assert!(!validator(&doc, &robot_body).is_valid(&bad));
    let mut bad = robot();
    bad["type"] = json!("no_such_type");
    assert!(!validator(&doc, &robot_body).is_valid(&bad));
    let mut bad = item();
    bad["extra"] = json!(1);
    assert!(!validator(&doc, &json!({"$ref": "#/components/schemas/NewItem"})).is_valid(&bad));
    assert!(validator(&doc, &robot_body).is_valid(&robot()));
    // An application's robot type is a body of the document too; a type
    // that is neither built in nor `app.<code>` is not.
    let mut app = robot();
    app["type"] = json!("app.quote_check");
    app["settings"] = json!({"threshold": 3});
    assert!(validator(&doc, &robot_body).is_valid(&app));
    app["type"] = json!("app.");
    assert!(!validator(&doc, &robot_body).is_valid(&app));
    assert!(
        validator(&doc, &json!({"$ref": "#/components/schemas/TriggerBody"})).is_valid(&trigger())
    );
}

/// Checks a real answer against the operation's documented response.
fn conforms(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let op = &doc["paths"][path][method];
    let status = reply.status.as_u16().to_string();
    let response = &op["responses"][&status];
    assert!(
        response.is_object(),
        "{method} {path}: {status} is not documented ({})",
        reply.body
    );
    if let Some(content) = response.get("content") {
        assert_valid(
            doc,
            &content["application/json"]["schema"],
            &reply.body,
            &format!("{method} {path} {status}"),
        );
    } else {
        assert!(reply.raw.is_empty(), "{method} {path}: undocumented body");
    }
}

#[tokio::test]
async fn what_the_server_answers_matches_the_document() {
    let doc = doc();
    let h = harness_with_clock();
    h.seed(KEY_A).await;
    let c = |m: &str, p: &str, r: &Reply| conforms(&doc, m, p, r);

    c("get", "/v1/health", &h.get(KEY_A, "/v1/health").await);
    c("get", "/v1/catalogue", &h.get(KEY_A, "/v1/catalogue").await);
    c("get", "/v1/clock", &h.get(KEY_A, "/v1/clock").await);
    let advanced = h
        .post(KEY_A, "/v1/clock/advance", json!({"seconds": 60}))
        .await;
    c("post", "/v1/clock/advance", &advanced);
    c(
        "get",
        "/v1/users/{id}",
        &h.get(KEY_A, "/v1/users/u-anna").await,
    );
    c(
        "get",
        "/v1/departments/{id}",
        &h.get(KEY_A, "/v1/departments/sales").await,
    );
    c(
        "put",
        "/v1/departments/{id}",
        &h.put(KEY_A, "/v1/departments/ops", json!({"name": "Ops"}))
            .await,
    );
    c(
        "put",
        "/v1/users/{id}",
        &h.put(KEY_A, "/v1/users/u-new", json!({"name": "New"}))
            .await,
    );
    c(
        "get",
        "/v1/pipelines/{id}",
        &h.get(KEY_A, "/v1/pipelines/sales").await,
    );
    c(
        "put",
        "/v1/pipelines/{id}",
        &h.put(KEY_A, "/v1/pipelines/sales", pipeline()).await,
    );

    let robot = h.post(KEY_A, "/v1/pipelines/sales/robots", robot()).await;
    c("post", "/v1/pipelines/{id}/robots", &robot);
    let task_robot = h
        .post(
            KEY_A,
            "/v1/pipelines/sales/robots",
            json!({"stage_id": "talks", "type": "create_task",
                   "settings": {"title": "Call {{client.name}}"}}),
        )
        .await;
    c("post", "/v1/pipelines/{id}/robots", &task_robot);
    let robot_path = format!(
        "/v1/pipelines/sales/robots/{}",
        robot.body["id"].as_str().unwrap()
    );
    c(
        "get",
        "/v1/pipelines/{id}/robots/{robot_id}",
        &h.get(KEY_A, &robot_path).await,
    );
    c(
        "post",
        "/v1/pipelines/{id}/robots/{robot_id}/copy",
        &h.post(
            KEY_A,
            &format!("{robot_path}/copy"),
            json!({"stage_id": "talks"}),
        )
        .await,
    );
    c(
        "get",
        "/v1/pipelines/{id}/robots",
        &h.get(KEY_A, "/v1/pipelines/sales/robots").await,
    );
    let trigger = h
        .post(KEY_A, "/v1/pipelines/sales/triggers", trigger())
        .await;
    c("post", "/v1/pipelines/{id}/triggers", &trigger);
    c(
        "get",
        "/v1/pipelines/{id}/triggers",
        &h.get(KEY_A, "/v1/pipelines/sales/triggers").await,
    );

    let created = h.post(KEY_A, "/v1/items", item()).await;
    c("post", "/v1/items", &created);
    let id = created.body["id"].as_str().unwrap().to_string();
    let item_path = format!("/v1/items/{id}");
    c("get", "/v1/items/{id}", &h.get(KEY_A, &item_path).await);
    let moved = h
        .patch(KEY_A, &item_path, json!({"stage_id": "talks"}), None)
        .await;
    c("patch", "/v1/items/{id}", &moved);
    h.post(KEY_A, "/v1/clock/advance", json!({"seconds": 0}))
        .await;
    c(
        "get",
        "/v1/items/{id}/timeline",
        &h.get(KEY_A, &format!("{item_path}/timeline")).await,
    );
    c(
        "get",
        "/v1/items/{id}/runs",
        &h.get(KEY_A, &format!("{item_path}/runs")).await,
    );
    c(
        "get",
        "/v1/tasks",
        &h.get(KEY_A, &format!("/v1/tasks?item_id={id}")).await,
    );
    c(
        "get",
        "/v1/activities",
        &h.get(KEY_A, &format!("/v1/activities?item_id={id}")).await,
    );
    c(
        "get",
        "/v1/notifications",
        &h.get(KEY_A, "/v1/notifications?user_id=u-boss").await,
    );
    c(
        "get",
        "/v1/messages",
        &h.get(KEY_A, "/v1/messages?user_id=u-anna").await,
    );
    c("get", "/v1/feed", &h.get(KEY_A, "/v1/feed").await);
    c("get", "/v1/outbox", &h.get(KEY_A, "/v1/outbox").await);
    for report in ["stage-time", "conversion", "robots"] {
        let path = format!("/v1/reports/{report}");
        let ok = h.get(KEY_A, &format!("{path}?pipeline_id=deals")).await;
        assert_eq!(ok.status, http::StatusCode::OK, "{}", ok.body);
        c("get", &path, &ok);
        let bad = h
            .get(
                KEY_A,
                &format!("{path}?pipeline_id=deals&from=2026-02-01&to=2026-01-01"),
            )
            .await;
        c("get", &path, &bad);
    }
    let event = h
        .post(
            KEY_A,
            "/v1/events",
            json!({"type": "incoming_call", "item_id": id}),
        )
        .await;
    c("post", "/v1/events", &event);
    c(
        "delete",
        "/v1/pipelines/{id}/robots/{robot_id}",
        &h.delete(KEY_A, &robot_path).await,
    );
    c(
        "delete",
        "/v1/items/{id}",
        &h.delete(KEY_A, &item_path).await,
    );
    // Errors answer the documented error shape.
    c("get", "/v1/items/{id}", &h.get(KEY_A, &item_path).await);
    let unknown_stage = h
        .post(KEY_A, "/v1/items", {
            let mut i = item();
            i["stage_id"] = json!("nowhere");
            i
        })
        .await;
    assert_eq!(unknown_stage.status, StatusCode::UNPROCESSABLE_ENTITY);
    c("post", "/v1/items", &unknown_stage);
    let unknown_key = h
        .call_with(
            Method::POST,
            "/v1/items",
            Some(KEY_A),
            Some(&json!({"title": "x", "colour": "red"})),
            &[],
        )
        .await;
    c("post", "/v1/items", &unknown_key);
}

/// Found by schemathesis: serde read `"client": [null, null]` as a client
/// (fields in order) although the document (and API.md) say it is an object.
#[tokio::test]
async fn an_array_where_the_document_says_object_is_400() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut body = item();
    body["client"] = json!([null, null]);
    let r = h.post(KEY_A, "/v1/items", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["client"]);
    let mut body = robot();
    body["delay"] = json!(["after", 1, "days"]);
    let r = h.post(KEY_A, "/v1/pipelines/sales/robots", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let mut body = pipeline();
    body["stages"][0] = json!(["new", "New"]);
    let r = h.put(KEY_A, "/v1/pipelines/sales", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["stages[0]"]);
    // Settings are read by the engine from a JSON value: the same holds.
    let r = h
        .post(
            KEY_A,
            "/v1/pipelines/sales/robots",
            json!({"stage_id": "new", "type": "create_task", "settings": ["Call them"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["settings"]);
    let r = h
        .post(
            KEY_A,
            "/v1/pipelines/sales/robots",
            json!({"stage_id": "new", "type": "create_task",
                   "settings": {"title": "Call", "deadline": [1, "days"]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["settings.deadline"]);
    let r = h
        .post(
            KEY_A,
            "/v1/pipelines/sales/triggers",
            json!({"stage_id": "new", "type": "webhook", "settings": ["abc"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Objects still work, and `null` for an optional object too.
    let mut body = item();
    body["client"] = json!(null);
    assert_eq!(
        h.post(KEY_A, "/v1/items", body).await.status,
        StatusCode::CREATED
    );
}

/// Custom robot types of applications: the registry, a robot of type
/// `app.<code>` (in robot lists and in its runs' snapshots), the catalogue
/// with the type and the answer endpoint answer as the document says.
#[tokio::test]
async fn app_robot_types_match_the_document() {
    let doc = doc();
    let h = harness_with_clock();
    h.seed(KEY_A).await;
    let c = |m: &str, p: &str, r: &Reply| conforms(&doc, m, p, r);
    let made = h
        .post(
            KEY_A,
            "/v1/robot-types",
            json!({"code": "erp", "name": "ERP order",
                "handler_url": "https://erp.example.com/robot",
                "settings_schema": {"properties": {"note": {"type": "string"}}},
                "return_schema": {"properties": {"order_id": {"type": "string"}}}}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    c("post", "/v1/robot-types", &made);
    let bad = h
        .post(
            KEY_A,
            "/v1/robot-types",
            json!({"code": "Bad", "name": "x", "handler_url": "http://10.0.0.1/"}),
        )
        .await;
    assert_eq!(bad.status, 422);
    c("post", "/v1/robot-types", &bad);
    c(
        "get",
        "/v1/robot-types",
        &h.get(KEY_A, "/v1/robot-types").await,
    );
    c(
        "get",
        "/v1/robot-types/{code}",
        &h.get(KEY_A, "/v1/robot-types/erp").await,
    );
    c(
        "get",
        "/v1/robot-types/{code}",
        &h.get(KEY_A, "/v1/robot-types/nope").await,
    );
    let cat = h.get(KEY_A, "/v1/catalogue").await;
    assert!(
        cat.body["robots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "app.erp")
    );
    c("get", "/v1/catalogue", &cat);
    let robot = h
        .post(
            KEY_A,
            "/v1/pipelines/sales/robots",
            json!({"stage_id": "new", "type": "app.erp", "settings": {"note": "{{title}}"}}),
        )
        .await;
    assert_eq!(robot.status, 201, "{}", robot.body);
    c("post", "/v1/pipelines/{id}/robots", &robot);
    c(
        "get",
        "/v1/pipelines/{id}/robots",
        &h.get(KEY_A, "/v1/pipelines/sales/robots").await,
    );
    let item = h.create_item(KEY_A).await;
    h.settle().await;
    let runs = h
        .get(
            KEY_A,
            &format!("/v1/items/{}/runs", item["id"].as_str().unwrap()),
        )
        .await;
    assert!(runs.body.to_string().contains("app.erp"), "{}", runs.body);
    c("get", "/v1/items/{id}/runs", &runs);
    let forged = h
        .call_with(
            http::Method::POST,
            &format!("/v1/robot-events/{}", "0".repeat(64)),
            None,
            Some(&json!({"return_values": {"order_id": "x"}})),
            &[],
        )
        .await;
    assert_eq!(forged.status, 404);
    c("post", "/v1/robot-events/{token}", &forged);
    let put = h
        .put(
            KEY_A,
            "/v1/robot-types/erp",
            json!({"name": "ERP order 2", "handler_url": "https://erp.example.com/robot"}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    c("put", "/v1/robot-types/{code}", &put);
    c(
        "delete",
        "/v1/robot-types/{code}",
        &h.delete(KEY_A, "/v1/robot-types/erp").await,
    );
}
