//! The standard test company: the one fixture every test, bench and Lambda
//! test of the workspace builds on (issue #8), instead of a copy per crate.
//!
//! Compiled for crm-core's own unit tests and, through the `testing` cargo
//! feature, for the crates that name it in their `[dev-dependencies]`; never
//! part of a release build.
//!
//! The company is data: [`company`] lists its records in load order as
//! `PUT` requests (path and JSON body of API.md). Engine-level tests load it
//! with [`load`] (or [`company_runtime`] on the in-memory ports); HTTP-level
//! tests and benches send the same bodies over HTTP:
//!
//! ```ignore
//! for put in crm_core::testing::company() {
//!     client.put(&put.path(), put.body).await;
//! }
//! ```
//!
//! The company (tenant [`TENANT`] in engine-level tests; HTTP tests choose
//! the tenant by their key):
//! - users in Europe/Moscow, Mon–Fri 09:00–18:00: `u-boss` Boris Head,
//!   `u-dina` Dina Designer and `u-lara` Lara Lawyer (heads, loaded first
//!   without a department), `u-anna` Anna Sales (sales; day off
//!   2026-12-31), `u-dan` Dan Designer and `u-dina` again (design);
//! - departments `sales` (head `u-boss`) and `design` (head `u-dina`);
//! - pipeline [`PIPELINE`] `deals` of the seed articles: New orders → Project
//!   preparation → Client presentation → Won / Lost, with the fields
//!   `budget`, `meeting_at` and `source`;
//! - pipeline [`SALES_PIPELINE`] `sales`: new → talks → won / lost.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Engine;
use crate::api::{DepartmentBody, PipelineBody, UserBody};
use crate::error::EngineError;
use crate::memory::MemRuntime;
use crate::model::Item;

/// The tenant of engine-level tests.
pub const TENANT: &str = "acme";
/// The seed articles' pipeline.
pub const PIPELINE: &str = "deals";
/// The small pipeline `new → talks → won / lost`.
pub const SALES_PIPELINE: &str = "sales";
/// Monday 2026-11-23 11:44 in Moscow (08:44 UTC): where the tests' clocks start.
pub const MONDAY_1144_MSK: &str = "2026-11-23T08:44:00Z";

/// Parse an RFC 3339 time.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// A request body from its JSON (panics on a shape the body rejects).
pub fn body<B: DeserializeOwned>(v: Value) -> B {
    serde_json::from_value(v).expect("a valid request body")
}

/// What a [`Put`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    User,
    Department,
    Pipeline,
}

/// One record of the company: `PUT /v1/{users|departments|pipelines}/{id}`
/// with `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    pub record: Record,
    pub id: &'static str,
    pub body: Value,
}

impl Put {
    /// The request path of API.md, e.g. `/v1/users/u-anna`.
    pub fn path(&self) -> String {
        let collection = match self.record {
            Record::User => "users",
            Record::Department => "departments",
            Record::Pipeline => "pipelines",
        };
        format!("/v1/{collection}/{}", self.id)
    }

    /// Write this record into `tenant` through the engine.
    pub async fn apply(&self, engine: &Engine, tenant: &str) -> Result<(), EngineError> {
        let b = self.body.clone();
        match self.record {
            Record::User => engine
                .put_user(tenant, self.id, body::<UserBody>(b))
                .await
                .map(drop),
            Record::Department => engine
                .put_department(tenant, self.id, body::<DepartmentBody>(b))
                .await
                .map(drop),
            Record::Pipeline => engine
                .put_pipeline(tenant, self.id, body::<PipelineBody>(b))
                .await
                .map(drop),
        }
    }
}

fn user(id: &'static str, name: &str, phone: &str, department: Option<&str>) -> Put {
    let mut b = json!({
        "name": name,
        "email": format!("{id}@acme.test"),
        "phone": phone,
        "department_id": department,
        "time_zone": "Europe/Moscow",
        "working_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
    });
    if id == "u-anna" {
        b["days_off"] = json!(["2026-12-31"]);
    }
    Put {
        record: Record::User,
        id,
        body: b,
    }
}

/// A pipeline of deals named "Sales": `stages` as (id, name, semantic),
/// `fields` as (key, type).
fn deal_pipeline(id: &'static str, stages: &[(&str, &str, &str)], fields: &[(&str, &str)]) -> Put {
    let stages: Vec<Value> = stages
        .iter()
        .map(|(id, name, semantic)| json!({"id": id, "name": name, "semantic": semantic}))
        .collect();
    let mut body = json!({"entity_type": "deal", "name": "Sales", "stages": stages});
    if !fields.is_empty() {
        let fields: Vec<Value> = fields
            .iter()
            .map(|(key, kind)| json!({"key": key, "type": kind}))
            .collect();
        body["fields"] = json!(fields);
    }
    Put {
        record: Record::Pipeline,
        id,
        body,
    }
}

/// The company's records in load order: heads first (departments name
/// them), then the departments, then their members, then the pipelines.
pub fn company() -> Vec<Put> {
    let mut puts = Vec::new();
    for (id, name) in [
        ("u-boss", "Boris Head"),
        ("u-dina", "Dina Designer"),
        ("u-lara", "Lara Lawyer"),
    ] {
        puts.push(user(id, name, "+7 900 000-00-01", None));
    }
    for (id, name, head) in [("sales", "Sales", "u-boss"), ("design", "Design", "u-dina")] {
        puts.push(Put {
            record: Record::Department,
            id,
            body: json!({"name": name, "head_id": head}),
        });
    }
    for (id, name, department) in [
        ("u-anna", "Anna Sales", "sales"),
        ("u-dina", "Dina Designer", "design"),
        ("u-dan", "Dan Designer", "design"),
    ] {
        puts.push(user(id, name, "+7 900 000-00-02", Some(department)));
    }
    puts.push(deal_pipeline(
        PIPELINE,
        &[
            ("new", "New orders", "process"),
            ("prep", "Project preparation", "process"),
            ("presentation", "Client presentation", "process"),
            ("won", "Won", "success"),
            ("lost", "Lost", "failure"),
        ],
        &[
            ("budget", "number"),
            ("meeting_at", "datetime"),
            ("source", "string"),
        ],
    ));
    puts.push(deal_pipeline(
        SALES_PIPELINE,
        &[
            ("new", "New orders", "process"),
            ("talks", "Talks", "process"),
            ("won", "Won", "success"),
            ("lost", "Lost", "failure"),
        ],
        &[],
    ));
    puts
}

/// The body of the company's pipeline `id` ([`PIPELINE`] or
/// [`SALES_PIPELINE`]).
pub fn pipeline(id: &str) -> Value {
    company()
        .into_iter()
        .find(|p| p.record == Record::Pipeline && p.id == id)
        .unwrap_or_else(|| panic!("no pipeline {id} in the company"))
        .body
}

/// Load the company into `tenant`.
pub async fn load(engine: &Engine, tenant: &str) -> Result<(), EngineError> {
    for put in company() {
        put.apply(engine, tenant).await?;
    }
    Ok(())
}

/// The engine on in-memory ports, its clock at `start` (RFC 3339), with the
/// company loaded into [`TENANT`].
pub async fn company_runtime(start: &str) -> MemRuntime {
    let rt = MemRuntime::new(at(start));
    load(&rt.engine, TENANT).await.expect("the company loads");
    rt
}

/// The seeds' deal in [`PIPELINE`]: "Website for Romashka" of `u-anna`, for
/// Romashka LLC, in `stage` (`POST /v1/items` body).
pub fn deal(stage: &str, amount: f64) -> Value {
    json!({"entity_type": "deal", "pipeline_id": PIPELINE, "stage_id": stage,
        "title": "Website for Romashka", "amount": amount, "currency": "RUB",
        "responsible_id": "u-anna",
        "client": {"name": "Romashka LLC", "phone": "+7 (495) 123-45-67", "email": "buyer@romashka.test"}})
}

/// A plain deal of `u-anna` titled `title` in `new` of [`PIPELINE`]
/// (`POST /v1/items` body).
pub fn plain_deal(title: &str) -> Value {
    json!({"pipeline_id": PIPELINE, "stage_id": "new", "title": title, "responsible_id": "u-anna"})
}

/// Create `item` (a `POST /v1/items` body) in [`TENANT`] and run
/// everything that became due.
pub async fn settled_item(rt: &MemRuntime, item: Value) -> Item {
    let item = rt
        .engine
        .create_item(TENANT, body(item))
        .await
        .expect("the item is created");
    rt.settle().await.expect("the runtime settles");
    item
}

/// Another runner claimed `run_id` until `until` and died before committing:
/// the run record as such a runner leaves it (running, claimed, one attempt).
pub async fn claim_left_by_a_dead_runner(
    rt: &MemRuntime,
    tenant: &str,
    run_id: &str,
    until: DateTime<Utc>,
) {
    use crate::ports::{Cond, Doc, DocKey, DocStore, Kind, Write};
    let key = DocKey::new(tenant, Kind::Run, run_id);
    let d = rt.store.get(&key).await.unwrap().unwrap();
    let mut run: crate::model::RunRecord = serde_json::from_value(d.body.clone()).unwrap();
    run.status = crate::model::RunStatus::Running;
    run.claim_until = Some(until);
    run.attempts = 1;
    rt.store
        .transact(vec![Write::Put {
            doc: Doc {
                version: d.version + 1,
                body: serde_json::to_value(&run).unwrap(),
                ..d
            },
            cond: Cond::Version(d.version),
        }])
        .await
        .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_has_its_path_and_heads_come_before_their_departments() {
        let puts = company();
        let paths: Vec<String> = puts.iter().map(Put::path).collect();
        assert_eq!(paths[0], "/v1/users/u-boss");
        let pos = |p: &str| paths.iter().position(|x| x == p).unwrap();
        assert!(pos("/v1/users/u-boss") < pos("/v1/departments/sales"));
        assert!(pos("/v1/departments/sales") < pos("/v1/users/u-anna"));
        assert_eq!(paths.last().unwrap(), "/v1/pipelines/sales");
    }
}
