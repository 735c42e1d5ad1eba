//! `GET /v1/reports/{stage-time,conversion,robots}`: JSON and CSV, the
//! period's 422s naming their field, tenancy.

use crate::common;

use std::sync::Arc;

use axum::body::Body;
use chrono::Duration;
use common::*;
use crm_core::engine::{Engine, EngineConfig};
use crm_core::memory::{MemStore, ports_on};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

/// The API over a store, and an engine on the same store that does the
/// stage-change step (processes the outbox) when the test says so.
struct Rig {
    h: Harness,
    worker: Engine,
}

impl Rig {
    fn new() -> Rig {
        let store = Arc::new(MemStore::new());
        let h = harness_on(store.clone());
        let worker = Engine::new(ports_on(store, h.clock.clone()), EngineConfig::default());
        Rig { h, worker }
    }

    async fn process(&self) {
        for d in self.worker.pending_outbox().await.unwrap() {
            self.worker.process_outbox(d).await.unwrap();
        }
    }

    async fn csv(&self, path: &str, accept: &str) -> (StatusCode, String, String) {
        let request = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {KEY_A}"))
            .header("accept", accept)
            .body(Body::empty())
            .unwrap();
        let response = self.h.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let ct = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, ct, String::from_utf8(body.to_vec()).unwrap())
    }
}

/// Two deals of `sales` created at 09:00 on 2026-03-02, moved to Talks one
/// and two hours later; the first then won at 12:00.
async fn history() -> Rig {
    let rig = Rig::new();
    rig.h.seed(KEY_A).await;
    let a = rig.h.create_item(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = rig.h.create_item(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (id, stage) in [(&a, "talks"), (&b, "talks"), (&a, "won")] {
        rig.h.clock.advance(Duration::hours(1));
        let r = rig
            .h
            .patch(
                KEY_A,
                &format!("/v1/items/{id}"),
                json!({"stage_id": stage}),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    rig.process().await;
    rig
}

const DAY: &str = "pipeline_id=sales&from=2026-03-02&to=2026-03-02";

#[tokio::test]
async fn time_in_stage_as_json_and_as_csv() {
    let rig = history().await;
    let r = rig
        .h
        .get(KEY_A, &format!("/v1/reports/stage-time?{DAY}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (&r.body["from"], &r.body["to"], &r.body["tz"]),
        (&json!("2026-03-02"), &json!("2026-03-02"), &json!("UTC"))
    );
    let new = &r.body["stages"][0];
    assert_eq!(
        (new["stage_id"].as_str(), new["count"].as_i64()),
        (Some("new"), Some(2))
    );
    assert_eq!(new["mean_seconds"], json!(5400.0)); // 1 h and 2 h
    let talks = &r.body["stages"][1];
    assert_eq!(talks["count"], json!(1)); // A left Talks after 2 h; B is still there
    assert_eq!(talks["mean_seconds"], json!(7200.0));

    let (status, ct, text) = rig
        .csv(&format!("/v1/reports/stage-time?{DAY}"), "text/csv")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "stage_id,name,semantic,count,visits,mean_seconds,median_seconds,p90_seconds,total_seconds"
    );
    assert!(
        lines[1].starts_with("new,New orders,process,2,2,5400,"),
        "{}",
        lines[1]
    );
    // `format=csv` does the same, for a plain link.
    let (_, ct, same) = rig
        .csv(&format!("/v1/reports/stage-time?{DAY}&format=csv"), "*/*")
        .await;
    assert!(ct.starts_with("text/csv"));
    assert_eq!(same, text);
    // Per responsible: all of them are Anna's.
    let r = rig
        .h
        .get(
            KEY_A,
            &format!("/v1/reports/stage-time?{DAY}&responsible_id=u-anna"),
        )
        .await;
    assert_eq!(r.body["stages"][0]["count"], json!(2));
    let r = rig
        .h
        .get(
            KEY_A,
            &format!("/v1/reports/stage-time?{DAY}&responsible_id=u-dan"),
        )
        .await;
    assert_eq!(r.body["stages"][0]["count"], json!(0));
}

#[tokio::test]
async fn conversion_and_robots_as_json_and_csv() {
    let rig = history().await;
    let r = rig
        .h
        .get(KEY_A, &format!("/v1/reports/conversion?{DAY}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let entered: Vec<i64> = r.body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["entered"].as_i64().unwrap())
        .collect();
    assert_eq!(entered, vec![2, 2, 1, 0]);
    assert_eq!(r.body["stages"][1]["conversion_percent"], json!(100.0));
    assert_eq!(r.body["stages"][2]["conversion_percent"], json!(50.0));
    assert_eq!(
        (&r.body["success"], &r.body["failure"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(r.body["processing_time"]["count"], json!(1));
    assert_eq!(r.body["processing_time"]["mean_seconds"], json!(10800.0));
    let (_, _, text) = rig
        .csv(&format!("/v1/reports/conversion?{DAY}"), "text/csv")
        .await;
    assert!(
        text.contains("\r\ntalks,Talks,process,2,100,,\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\n_processing_time,,,1,,10800,"), "{text}");

    let r = rig.h.get(KEY_A, &format!("/v1/reports/robots?{DAY}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["robots"], json!([]));
    let (_, _, text) = rig
        .csv(&format!("/v1/reports/robots?{DAY}"), "text/csv")
        .await;
    assert!(
        text.starts_with("robot_id,name,type,stage_id,done,"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_period_is_a_422_naming_its_field_and_other_tenants_get_404() {
    let rig = Rig::new();
    rig.h.seed(KEY_A).await;
    for (query, field) in [
        ("from=2026-03-10&to=2026-03-01", "from"),
        ("from=2025-01-01&to=2026-03-01", "to"),
        ("from=March", "from"),
        ("to=2026-02-30", "to"),
        ("tz=Mars/Olympus", "tz"),
    ] {
        for report in ["stage-time", "conversion", "robots"] {
            let r = rig
                .h
                .get(
                    KEY_A,
                    &format!("/v1/reports/{report}?pipeline_id=sales&{query}"),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{report}?{query}: {}",
                r.body
            );
            assert_eq!(r.error_code(), "unprocessable");
            assert_eq!(r.fields(), vec![field.to_string()], "{report}?{query}");
        }
    }
    let r = rig
        .h
        .get(
            KEY_A,
            "/v1/reports/stage-time?pipeline_id=sales&responsible_id=u-nobody",
        )
        .await;
    assert_eq!(
        (r.status, r.fields()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["responsible_id".to_string()]
        )
    );
    let r = rig.h.get(KEY_A, "/v1/reports/stage-time").await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["pipeline_id".to_string()])
    );
    let r = rig
        .h
        .get(KEY_A, "/v1/reports/robots?pipeline_id=sales&colour=red")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = rig
        .h
        .get(KEY_A, "/v1/reports/robots?pipeline_id=sales&format=pdf")
        .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["format".to_string()])
    );
    // A period of exactly 366 days is fine; the default is the last 30.
    let r = rig
        .h
        .get(
            KEY_A,
            "/v1/reports/conversion?pipeline_id=sales&from=2025-03-02&to=2026-03-02",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = rig
        .h
        .get(KEY_A, "/v1/reports/conversion?pipeline_id=sales")
        .await;
    assert_eq!(
        (&r.body["from"], &r.body["to"]),
        (&json!("2026-02-01"), &json!("2026-03-02"))
    );
    // Another tenant's pipeline does not exist for this one.
    for report in ["stage-time", "conversion", "robots"] {
        let r = rig
            .h
            .get(KEY_B, &format!("/v1/reports/{report}?pipeline_id=sales"))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{report}: {}", r.body);
    }
}
