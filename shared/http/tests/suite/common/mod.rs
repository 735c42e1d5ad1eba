//! Test harness: the router over an engine on the in-memory ports.
#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use chrono::{DateTime, TimeZone, Utc};
use crm_core::engine::{Engine, EngineConfig};
use crm_core::memory::{ManualClock, MemDelivery, MemEvents, MemJobs, MemStore, SeqIds};
use crm_core::ports::{Clock, Doc, DocKey, DocStore, Kind, Ports, StoreError, Write};
use crm_http::{ApiKeys, AppState, ClockControl, router};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const KEY_A: &str = "key-a";
pub const KEY_B: &str = "key-b";
/// The admin key of [`harness_with_clock`] (moves the clock).
pub const ADMIN_KEY: &str = "key-admin";

/// A manual clock that only moves (runs nothing): enough to test the wiring.
pub struct TestClock(pub Arc<ManualClock>);

#[async_trait]
impl ClockControl for TestClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
    async fn advance(&self, seconds: i64) -> Result<DateTime<Utc>, String> {
        Ok(self.0.advance(chrono::Duration::seconds(seconds)))
    }
}

pub struct Harness {
    pub app: Router,
    pub clock: Arc<ManualClock>,
    /// The engine behind the router and its queues (to run queued work).
    pub rig: Rig,
}

/// The engine of a harness and its in-memory queues.
#[derive(Clone)]
pub struct Rig {
    pub engine: Arc<Engine>,
    pub jobs: Arc<MemJobs>,
    pub events: Arc<MemEvents>,
}

/// A response: status, headers, JSON body (`Value::Null` when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Reply {
    /// The `field`s of `error.details`.
    pub fn fields(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|d| {
                d.iter()
                    .map(|x| x["field"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the common error shape and returns the code.
    pub fn error_code(&self) -> String {
        let e = &self.body["error"];
        assert!(e["code"].is_string(), "no error code in {}", self.body);
        assert!(
            e["message"].is_string(),
            "no error message in {}",
            self.body
        );
        assert!(e["details"].is_array(), "no error details in {}", self.body);
        e["code"].as_str().unwrap().to_string()
    }
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn engine(clock: Arc<ManualClock>) -> Rig {
    engine_on(clock, Arc::new(MemStore::new()))
}

fn engine_on(clock: Arc<ManualClock>, store: Arc<dyn DocStore>) -> Rig {
    let jobs = Arc::new(MemJobs::new());
    let events = Arc::new(MemEvents::new());
    let ports = Ports {
        store,
        jobs: jobs.clone(),
        scheduler: jobs.clone(),
        events: events.clone(),
        delivery: Arc::new(MemDelivery::new()),
        clock,
        ids: Arc::new(SeqIds::new()),
        blobs: Arc::new(crm_core::memory_blobs::MemoryBlobs::new()),
        http: Arc::new(crm_core::memory_http::MemHttp::new()),
    };
    Rig {
        engine: Arc::new(Engine::new(ports, EngineConfig::default())),
        jobs,
        events,
    }
}

fn keys() -> ApiKeys {
    ApiKeys::parse(&format!("tenant-a:{KEY_A},tenant-b:{KEY_B}")).unwrap()
}

/// Router without a clock hook (like the Lambda / system-clock server).
pub fn harness() -> Harness {
    let clock = Arc::new(ManualClock::new(start()));
    let rig = engine(clock.clone());
    let state = AppState::new(rig.engine.clone(), keys());
    Harness {
        app: router(state),
        clock,
        rig,
    }
}

/// Router whose state is changed by `with` (a key store, a limit…).
pub fn harness_with(with: impl FnOnce(AppState) -> AppState) -> Harness {
    let clock = Arc::new(ManualClock::new(start()));
    let rig = engine(clock.clone());
    let state = with(AppState::new(rig.engine.clone(), keys()));
    Harness {
        app: router(state),
        clock,
        rig,
    }
}

/// Router over a given document store (e.g. one that fails).
pub fn harness_on(store: Arc<dyn DocStore>) -> Harness {
    let clock = Arc::new(ManualClock::new(start()));
    let rig = engine_on(clock.clone(), store);
    let state = AppState::new(rig.engine.clone(), keys());
    Harness {
        app: router(state),
        clock,
        rig,
    }
}

/// A store whose backend is down.
pub struct DownStore;

#[async_trait]
impl DocStore for DownStore {
    async fn get(&self, _key: &DocKey) -> Result<Option<Doc>, StoreError> {
        Err(StoreError::Unavailable("db.internal:5432 refused".into()))
    }
    async fn list(
        &self,
        _tenant: &str,
        _kind: Kind,
        _parent: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        Err(StoreError::Unavailable("db.internal:5432 refused".into()))
    }
    async fn transact(&self, _writes: Vec<Write>) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("db.internal:5432 refused".into()))
    }
}

/// Router with the manual clock endpoints enabled.
pub fn harness_with_clock() -> Harness {
    let clock = Arc::new(ManualClock::new(start()));
    let rig = engine(clock.clone());
    let state = AppState::new(rig.engine.clone(), keys())
        .with_clock(Arc::new(TestClock(clock.clone())))
        .with_admin_key(ADMIN_KEY);
    Harness {
        app: router(state),
        clock,
        rig,
    }
}

impl Harness {
    /// Runs the queued work that is due now (outbox records, events, robot
    /// jobs) until none is left, as the runtimes do.
    pub async fn settle(&self) {
        let e = &self.rig.engine;
        loop {
            let mut progressed = false;
            for d in e.pending_outbox().await.unwrap() {
                e.process_outbox(d).await.unwrap();
                progressed = true;
            }
            while let Some(ev) = self.rig.events.pop() {
                e.handle_event(ev).await.unwrap();
                progressed = true;
            }
            while let Some(j) = self.rig.jobs.pop_due(self.clock.now()) {
                e.run_job(j).await.unwrap();
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    /// Moves the clock by `d` and runs what became due.
    pub async fn advance(&self, d: chrono::Duration) {
        self.settle().await;
        self.clock.advance(d);
        self.settle().await;
    }

    /// Sends a request whose answer need not be JSON: status, headers, text.
    pub async fn send_text(&self, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Sends a raw request.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).unwrap_or_else(|e| {
                panic!("non-JSON body ({e}): {}", String::from_utf8_lossy(&raw))
            })
        };
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    /// Sends a request with an optional key, optional JSON body and extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        for (name, value) in headers {
            b = b.header(*name, *value);
        }
        let request = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(v).unwrap()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(request).await
    }

    /// Sends a raw body with `Content-Type: application/json` and key A.
    pub async fn call_raw(&self, method: Method, path: &str, body: impl Into<Body>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {KEY_A}"))
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    /// Sends a raw body with `Content-Type: application/json` and `key`.
    pub async fn call_raw_with(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: impl Into<Body>,
    ) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    pub async fn get(&self, key: &str, path: &str) -> Reply {
        self.call_with(Method::GET, path, Some(key), None, &[])
            .await
    }

    pub async fn put(&self, key: &str, path: &str, body: Value) -> Reply {
        self.call_with(Method::PUT, path, Some(key), Some(&body), &[])
            .await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Reply {
        self.call_with(Method::POST, path, Some(key), Some(&body), &[])
            .await
    }

    pub async fn patch(&self, key: &str, path: &str, body: Value, if_match: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
        self.call_with(Method::PATCH, path, Some(key), Some(&body), &headers)
            .await
    }

    pub async fn delete(&self, key: &str, path: &str) -> Reply {
        self.call_with(Method::DELETE, path, Some(key), None, &[])
            .await
    }

    /// The standard company of `crm_core::testing` (users, departments, the
    /// `deals` and `sales` pipelines) for the tenant of `key`.
    pub async fn seed(&self, key: &str) {
        for put in crm_core::testing::company() {
            let r = self.put(key, &put.path(), put.body).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    }

    /// Creates a deal in `sales` and returns it.
    pub async fn create_item(&self, key: &str) -> Value {
        let r = self.post(key, "/v1/items", item()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

/// The body of the `sales` pipeline (new → talks → won / lost).
pub fn pipeline() -> Value {
    crm_core::testing::pipeline(crm_core::testing::SALES_PIPELINE)
}

pub fn item() -> Value {
    json!({
        "entity_type": "deal",
        "pipeline_id": "sales",
        "title": "10 chairs",
        "amount": 15000,
        "currency": "RUB",
        "responsible_id": "u-anna",
        "client": {"name": "ACME", "phone": "+70000000000", "email": "buyer@acme.test"},
        "fields": {}
    })
}

pub fn robot() -> Value {
    json!({
        "stage_id": "new",
        "type": "notify_supervisor",
        "name": "Escalate",
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "respect_working_hours": false,
        "condition": {"field": "amount", "op": "gt", "value": 10000},
        "after_previous": false,
        "settings": {"text": "{{responsible.name}} did not move {{title}} ({{amount}})"}
    })
}

pub fn trigger() -> Value {
    json!({
        "stage_id": "talks",
        "type": "incoming_call",
        "name": "Called us",
        "condition": null,
        "execute_as": "u-boss",
        "allow_backwards": false
    })
}
