//! Shared helpers of the HTTP-level tests: a server on a temporary data
//! directory with a manual clock, a small JSON client, and the standard
//! company of `crm_core::testing` loaded through the API.
#![allow(dead_code)]

pub mod smtp_sink;

use std::path::Path;

use crm_automation::{ClockMode, ServeConfig, Server};
use reqwest::Method;
use serde_json::{Value, json};

#[allow(unused_imports)] // not every test file uses both
pub use crm_core::testing::{MONDAY_1144_MSK, at};
/// Two tenants, as `CRM_API_KEYS` would give them.
pub const KEYS: &str = "acme:key-acme,globex:key-globex";
/// The admin key (`CRM_ADMIN_KEY`): the only key that moves the clock.
pub const ADMIN_KEY: &str = "key-admin";

/// A server on `dir` with a manual clock at `start`.
pub async fn server_on(dir: &Path, start: &str) -> Server {
    Server::start(ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.to_path_buf(),
        clock: ClockMode::Manual,
        start_at: Some(at(start)),
        demo: false,
        api_keys: Some(KEYS.into()),
        admin_key: Some(ADMIN_KEY.into()),
        ..ServeConfig::default()
    })
    .await
    .expect("server starts")
}

/// A JSON client of one tenant.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub key: String,
    /// The key `advance` uses.
    pub admin_key: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, key: &str) -> Api {
        Api {
            base: base.to_string(),
            key: key.to_string(),
            admin_key: ADMIN_KEY.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The same client moving the clock with another admin key.
    pub fn with_admin_key(mut self, admin_key: &str) -> Api {
        self.admin_key = admin_key.to_string();
        self
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

    /// `POST /v1/clock/advance` with the admin key; returns the new time.
    pub async fn advance(&self, seconds: i64) -> String {
        let admin = Api {
            key: self.admin_key.clone(),
            ..self.clone()
        };
        let v = admin
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
            .post("/v1/items", crm_core::testing::deal(stage, amount))
            .await;
        self.settle().await;
        d["id"].as_str().unwrap().to_string()
    }

    pub async fn move_to(&self, item: &str, stage: &str) {
        self.patch(&format!("/v1/items/{item}"), json!({ "stage_id": stage }))
            .await;
        self.settle().await;
    }

    /// Every page of a list (`field` of each answer), following `next_cursor`.
    pub async fn all_pages(&self, path: &str, field: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut url = format!("{path}{sep}limit=200");
        loop {
            let page = self.get(&url).await;
            out.extend(page[field].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => url = format!("{path}{sep}limit=200&cursor={c}"),
                None => return out,
            }
        }
    }

    pub async fn runs(&self, item: &str) -> Vec<Value> {
        self.all_pages(&format!("/v1/items/{item}/runs"), "runs")
            .await
    }

    pub async fn notifications(&self, user: &str) -> Vec<Value> {
        self.all_pages(
            &format!("/v1/notifications?user_id={user}"),
            "notifications",
        )
        .await
    }

    pub async fn timeline(&self, item: &str) -> Vec<Value> {
        self.all_pages(&format!("/v1/items/{item}/timeline"), "entries")
            .await
    }
}

/// The last run of a robot in a run log.
pub fn run_of<'a>(runs: &'a [Value], robot_id: &str) -> &'a Value {
    runs.iter()
        .rfind(|r| r["robot_id"] == robot_id)
        .unwrap_or_else(|| panic!("no run of {robot_id} in {runs:#?}"))
}

/// The standard company of `crm_core::testing` (users, departments, the
/// `deals` and `sales` pipelines), through the API.
pub async fn company(api: &Api) {
    for put in crm_core::testing::company() {
        api.put(&put.path(), put.body).await;
    }
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
