//! Shared helpers of the HTTP-level tests: a server on a temporary data
//! directory with a manual clock, a small JSON client, and the seeds' company.
#![allow(dead_code)]

use std::path::Path;

use crm_automation::{ClockMode, ServeConfig, Server};
use reqwest::Method;
use serde_json::{Value, json};

/// Monday 2026-11-23 11:44 in Moscow (08:44 UTC).
pub const MONDAY_1144_MSK: &str = "2026-11-23T08:44:00Z";
/// Two tenants, as `CRM_API_KEYS` would give them.
pub const KEYS: &str = "acme:key-acme,globex:key-globex";

/// Parse an RFC 3339 time.
pub fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// A server on `dir` with a manual clock at `start`.
pub async fn server_on(dir: &Path, start: &str) -> Server {
    Server::start(ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.to_path_buf(),
        clock: ClockMode::Manual,
        start_at: Some(at(start)),
        demo: false,
        api_keys: Some(KEYS.into()),
    })
    .await
    .expect("server starts")
}

/// A JSON client of one tenant.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, key: &str) -> Api {
        Api {
            base: base.to_string(),
            key: key.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Any request; returns the status and the JSON body (Null when empty).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, &[]).await
    }

    /// Any request with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body read");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    async fn expect(&self, method: Method, path: &str, body: Option<Value>, want: u16) -> Value {
        let (status, v) = self.call(method.clone(), path, body).await;
        assert_eq!(status, want, "{method} {path} → {status}: {v}");
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        self.expect(Method::GET, path, None, 200).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.expect(Method::POST, path, Some(body), 201).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        self.expect(Method::PUT, path, Some(body), 200).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Value {
        self.expect(Method::PATCH, path, Some(body), 200).await
    }

    /// `POST /v1/clock/advance`; returns the new time.
    pub async fn advance(&self, seconds: i64) -> String {
        let v = self
            .expect(
                Method::POST,
                "/v1/clock/advance",
                Some(json!({ "seconds": seconds })),
                200,
            )
            .await;
        v["now"].as_str().unwrap().to_string()
    }

    /// Run everything that is due now (advance by 0).
    pub async fn settle(&self) {
        self.advance(0).await;
    }

    pub async fn robot(&self, v: Value) -> String {
        let r = self.post("/v1/pipelines/deals/robots", v).await;
        r["id"].as_str().unwrap().to_string()
    }

    pub async fn trigger(&self, v: Value) -> String {
        let r = self.post("/v1/pipelines/deals/triggers", v).await;
        r["id"].as_str().unwrap().to_string()
    }

    /// A deal of the seeds, settled.
    pub async fn deal(&self, stage: &str, amount: f64) -> String {
        let d = self
            .post(
                "/v1/items",
                json!({"entity_type": "deal", "pipeline_id": "deals", "stage_id": stage,
                    "title": "Website for Romashka", "amount": amount, "currency": "RUB",
                    "responsible_id": "u-anna",
                    "client": {"name": "Romashka LLC", "phone": "+7 (495) 123-45-67", "email": "buyer@romashka.test"}}),
            )
            .await;
        self.settle().await;
        d["id"].as_str().unwrap().to_string()
    }

    pub async fn move_to(&self, item: &str, stage: &str) {
        self.patch(&format!("/v1/items/{item}"), json!({ "stage_id": stage }))
            .await;
        self.settle().await;
    }

    pub async fn runs(&self, item: &str) -> Vec<Value> {
        self.get(&format!("/v1/items/{item}/runs")).await["runs"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn notifications(&self, user: &str) -> Vec<Value> {
        self.get(&format!("/v1/notifications?user_id={user}")).await["notifications"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn timeline(&self, item: &str) -> Vec<Value> {
        self.get(&format!("/v1/items/{item}/timeline")).await["entries"]
            .as_array()
            .unwrap()
            .clone()
    }
}

/// The last run of a robot in a run log.
pub fn run_of<'a>(runs: &'a [Value], robot_id: &str) -> &'a Value {
    runs.iter()
        .rfind(|r| r["robot_id"] == robot_id)
        .unwrap_or_else(|| panic!("no run of {robot_id} in {runs:#?}"))
}

/// The seeds' company: a sales head, a manager, designers, a lawyer
/// (Europe/Moscow, default working hours) and the `deals` pipeline.
pub async fn company(api: &Api) {
    for (id, name) in [
        ("u-boss", "Boris Head"),
        ("u-dina", "Dina Designer"),
        ("u-lara", "Lara Lawyer"),
    ] {
        api.put(
            &format!("/v1/users/{id}"),
            json!({"name": name, "email": format!("{id}@acme.test"), "time_zone": "Europe/Moscow"}),
        )
        .await;
    }
    api.put(
        "/v1/departments/sales",
        json!({"name": "Sales", "head_id": "u-boss"}),
    )
    .await;
    api.put(
        "/v1/departments/design",
        json!({"name": "Design", "head_id": "u-dina"}),
    )
    .await;
    for (id, name, dept) in [
        ("u-anna", "Anna Sales", "sales"),
        ("u-dina", "Dina Designer", "design"),
        ("u-dan", "Dan Designer", "design"),
    ] {
        api.put(
            &format!("/v1/users/{id}"),
            json!({"name": name, "email": format!("{id}@acme.test"), "department_id": dept,
                "time_zone": "Europe/Moscow",
                "working_hours": {"days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "18:00"}}),
        )
        .await;
    }
    api.put(
        "/v1/pipelines/deals",
        json!({"entity_type": "deal", "name": "Sales", "stages": [
            {"id": "new", "name": "New orders", "semantic": "process"},
            {"id": "prep", "name": "Project preparation", "semantic": "process"},
            {"id": "presentation", "name": "Client presentation", "semantic": "process"},
            {"id": "won", "name": "Won", "semantic": "success"},
            {"id": "lost", "name": "Lost", "semantic": "failure"}
        ]}),
    )
    .await;
}

/// A started server with the company loaded for tenant `acme`, plus a client
/// of each tenant. Keep the `TempDir` alive for the test's duration.
pub async fn started(start: &str) -> (tempfile::TempDir, Server, Api, Api) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dir.path(), start).await;
    let acme = Api::new(&server.base_url(), "key-acme");
    let globex = Api::new(&server.base_url(), "key-globex");
    company(&acme).await;
    (dir, server, acme, globex)
}
