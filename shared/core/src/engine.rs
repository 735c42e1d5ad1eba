//! The engine: every operation of the product, over the ports.
//!
//! - API operations (directory, pipelines, robots, triggers, items, events,
//!   tasks, read models) live here.
//! - [`Engine::process_outbox`] (the stage-change step), [`Engine::handle_event`]
//!   (trigger evaluation) and [`Engine::run_job`] (the robot runner) live in
//!   `dispatch.rs` and `runner.rs`.
//!
//! Every change of an item is one conditional transaction that also writes its
//! timeline entries and a transactional-outbox record, so that the follow-up
//! work (ending the old visit, planning the new one, evaluating change
//! triggers) cannot be lost even if the writer dies right after the write.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{
    CopyBody, DepartmentBody, EventBody, ItemPatch, NewItem, PipelineBody, RobotBody, TaskPatch,
    TriggerBody, UserBody,
};
use crate::automation::{Action, Robot, TRIGGER_TYPES, Trigger, TriggerKind};
use crate::error::{EngineError, FieldError, Result};
use crate::model::{
    Activity, Chain, Channel, Chat, Department, FeedPost, FieldType, Item, ItemChange, Message,
    Notification, Outbound, OutboxRecord, Pipeline, QueuedEvent, RunRecord, StageMove, Task,
    TaskStatus, TimelineEntry, User,
};
use crate::ports::{Cond, Doc, DocKey, Kind, Ports, SYSTEM_TENANT, StoreError, Write};
use crate::validate::{Refs, validate_robot, validate_trigger};
use crate::workhours::WorkCalendar;

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Automatic stage moves one causal chain may make before it is stopped.
    pub max_hops: u32,
    /// How long a runner's claim on a run lasts before another may take over.
    pub claim_ttl: chrono::Duration,
    /// How many times an operation is retried after losing an optimistic race.
    pub max_retries: u32,
    /// Claim a run (a conditional write with an expiring claim) before
    /// performing it, so that concurrent runners (Lambda) do not compute the
    /// same run twice. The effect is once either way: the commit is guarded by
    /// the run record's version. A single local worker turns it off and saves
    /// one transaction per run.
    pub claim_runs: bool,
    /// List pending outbox records under one parent, for a process that polls
    /// them (the local server). Off on AWS, where the table's stream delivers
    /// them and one shared list key would cap the write rate.
    pub list_outbox: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_hops: 10,
            claim_ttl: chrono::Duration::minutes(5),
            max_retries: 8,
            claim_runs: true,
            list_outbox: true,
        }
    }
}

/// The robots-and-triggers engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) ports: Ports,
    pub(crate) config: EngineConfig,
}

/// Parent under which pending outbox records are listed.
pub const OUTBOX_PENDING: &str = "pending";

pub(crate) fn doc<T: Serialize>(
    tenant: &str,
    kind: Kind,
    id: &str,
    version: u64,
    parent: Option<&str>,
    body: &T,
) -> Doc {
    Doc {
        key: DocKey::new(tenant, kind, id),
        version,
        parent: parent.map(str::to_string),
        expires_at: None,
        body: serde_json::to_value(body).expect("engine records serialize"),
    }
}

pub(crate) fn put(doc: Doc, cond: Cond) -> Write {
    Write::Put { doc, cond }
}

/// The condition of an optimistic write of a document read at `version`
/// (0 = it did not exist).
pub(crate) fn cond_for(version: u64) -> Cond {
    if version == 0 {
        Cond::Absent
    } else {
        Cond::Version(version)
    }
}

/// Stable short hash (FNV-1a 64) for derived ids.
pub(crate) fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Timeline ids sort chronologically.
pub(crate) fn timeline_id(at: DateTime<Utc>, suffix: &str) -> String {
    format!("{:013}-{suffix}", at.timestamp_millis().max(0))
}

pub(crate) fn timeline_write(tenant: &str, e: &TimelineEntry) -> Write {
    put(
        doc(tenant, Kind::Timeline, &e.id, 1, Some(&e.item_id), e),
        Cond::Any,
    )
}

pub(crate) fn decode<T: DeserializeOwned>(d: &Doc) -> Result<T> {
    // Deserialize from the borrowed value: no deep copy of the body.
    T::deserialize(&d.body).map_err(|e| {
        EngineError::Store(StoreError::Unavailable(format!(
            "corrupt document {}: {e}",
            d.key
        )))
    })
}

fn normalize_phone(p: &str) -> String {
    p.chars().filter(char::is_ascii_digit).collect()
}

/// Client index keys of an item's contacts.
pub(crate) fn client_keys(c: &crate::model::Client) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(p) = &c.phone {
        let n = normalize_phone(p);
        if !n.is_empty() {
            keys.push(format!("phone:{n}"));
        }
    }
    if let Some(e) = &c.email {
        let e = e.trim().to_lowercase();
        if !e.is_empty() {
            keys.push(format!("email:{e}"));
        }
    }
    keys
}

/// Client index keys an event identifies its item by.
pub(crate) fn client_ref_keys(c: &crate::model::ClientRef) -> Vec<String> {
    client_keys(&crate::model::Client {
        name: None,
        phone: c.phone.clone(),
        email: c.email.clone(),
    })
}

fn check_field_value(def: &crate::model::FieldDef, v: &Value) -> std::result::Result<(), String> {
    use chrono::NaiveDate;
    if v.is_null() {
        return Ok(());
    }
    let ok = match def.field_type {
        FieldType::String | FieldType::User | FieldType::File => v.is_string(),
        FieldType::Number => v.is_number(),
        FieldType::Bool => v.is_boolean(),
        FieldType::Date => v
            .as_str()
            .is_some_and(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
        FieldType::Datetime => v
            .as_str()
            .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
        FieldType::List => {
            let allowed = |x: &Value| {
                x.as_str()
                    .is_some_and(|s| def.options.is_empty() || def.options.iter().any(|o| o == s))
            };
            if def.multiple {
                v.as_array().is_some_and(|a| a.iter().all(allowed))
            } else {
                allowed(v)
            }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected a {} value{}",
            serde_json::to_value(def.field_type)
                .ok()
                .and_then(|t| t.as_str().map(str::to_string))
                .unwrap_or_default(),
            if def.options.is_empty() {
                String::new()
            } else {
                format!(" (one of {})", def.options.join(", "))
            }
        ))
    }
}

/// Validate custom field values against the pipeline's declarations.
pub(crate) fn check_fields(
    pipeline: &Pipeline,
    fields: &BTreeMap<String, Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (k, v) in fields {
        match pipeline.field(k) {
            None => errors.push(FieldError {
                field: format!("fields.{k}"),
                message: format!("unknown field of pipeline '{}'", pipeline.id),
            }),
            Some(def) => {
                if let Err(m) = check_field_value(def, v) {
                    errors.push(FieldError {
                        field: format!("fields.{k}"),
                        message: m,
                    });
                }
            }
        }
    }
    errors
}

fn unprocessable(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Unprocessable { details: errors })
    }
}

impl Engine {
    pub fn new(ports: Ports, config: EngineConfig) -> Self {
        Engine { ports, config }
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Commit `writes`; a lost optimistic race (a failed condition) becomes
    /// a 409 with the message `what` gives.
    async fn commit(&self, writes: Vec<Write>, what: impl FnOnce() -> String) -> Result<()> {
        self.ports
            .store
            .transact(writes)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => EngineError::Conflict(what()),
                e => e.into(),
            })
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    pub(crate) async fn load<T: DeserializeOwned>(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
    ) -> Result<Option<(T, u64)>> {
        match self.ports.store.get(&DocKey::new(tenant, kind, id)).await? {
            None => Ok(None),
            Some(d) => Ok(Some((decode(&d)?, d.version))),
        }
    }

    pub(crate) async fn must<T: DeserializeOwned>(
        &self,
        tenant: &str,
        kind: Kind,
        what: &'static str,
        id: &str,
    ) -> Result<(T, u64)> {
        self.load(tenant, kind, id)
            .await?
            .ok_or_else(|| EngineError::not_found(what, id))
    }

    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
    ) -> Result<Vec<T>> {
        self.ports
            .store
            .list(tenant, kind, parent)
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    pub(crate) async fn load_item(&self, tenant: &str, id: &str) -> Result<Option<Item>> {
        Ok(self
            .load::<Item>(tenant, Kind::Item, id)
            .await?
            .map(|(mut item, v)| {
                item.version = v;
                item
            }))
    }

    pub(crate) async fn user(&self, tenant: &str, id: &str) -> Result<Option<User>> {
        Ok(self.load(tenant, Kind::User, id).await?.map(|(u, _)| u))
    }

    /// The working calendar of a user (None if the user is unknown or has a bad zone).
    pub(crate) fn calendar(user: &User) -> Option<WorkCalendar> {
        let tz: chrono_tz::Tz = user.time_zone.parse().ok()?;
        Some(WorkCalendar::new(
            tz,
            user.working_hours.clone(),
            user.days_off.iter().copied(),
        ))
    }

    /// The head of a user's department; if the user heads it, the head of the
    /// parent department, and so on up the tree.
    pub(crate) async fn supervisor_of(&self, tenant: &str, user: &User) -> Result<Option<String>> {
        let mut dept_id = user.department_id.clone();
        let mut seen = HashSet::new();
        while let Some(d) = dept_id {
            if !seen.insert(d.clone()) {
                break;
            }
            let Some((dept, _)) = self
                .load::<Department>(tenant, Kind::Department, &d)
                .await?
            else {
                break;
            };
            match &dept.head_id {
                Some(h) if h != &user.id => return Ok(Some(h.clone())),
                _ => dept_id = dept.parent_id.clone(),
            }
        }
        Ok(None)
    }

    /// Check that referenced users, departments and pipelines exist.
    pub(crate) async fn check_refs(&self, tenant: &str, refs: &Refs) -> Result<Vec<FieldError>> {
        let mut errors = Vec::new();
        let user_keys: Vec<DocKey> = refs
            .users
            .iter()
            .map(|(_, id)| DocKey::new(tenant, Kind::User, id.as_str()))
            .collect();
        let dept_keys: Vec<DocKey> = refs
            .departments
            .iter()
            .map(|(_, id)| DocKey::new(tenant, Kind::Department, id.as_str()))
            .collect();
        let mut keys = user_keys;
        keys.extend(dept_keys);
        let found = if keys.is_empty() {
            Vec::new()
        } else {
            self.ports.store.get_many(&keys).await?
        };
        let (users, depts) = found.split_at(refs.users.len());
        for ((field, id), f) in refs.users.iter().zip(users) {
            if f.is_none() {
                errors.push(FieldError {
                    field: field.clone(),
                    message: format!("unknown user '{id}'"),
                });
            }
        }
        for ((field, id), f) in refs.departments.iter().zip(depts) {
            if f.is_none() {
                errors.push(FieldError {
                    field: field.clone(),
                    message: format!("unknown department '{id}'"),
                });
            }
        }
        for (field, pid, stages) in &refs.pipelines {
            match self.load::<Pipeline>(tenant, Kind::Pipeline, pid).await? {
                None => errors.push(FieldError {
                    field: "settings.pipeline_id".into(),
                    message: format!("unknown pipeline '{pid}'"),
                }),
                Some((p, _)) => {
                    for s in stages {
                        if p.stage(s).is_none() {
                            errors.push(FieldError {
                                field: field.clone(),
                                message: format!("unknown stage '{s}' in pipeline '{pid}'"),
                            });
                        }
                    }
                }
            }
        }
        Ok(errors)
    }

    // ---------------------------------------------------------------- directory

    pub async fn put_department(
        &self,
        tenant: &str,
        id: &str,
        body: DepartmentBody,
    ) -> Result<Department> {
        let mut refs = Refs::default();
        if let Some(h) = &body.head_id {
            refs.users.push(("head_id".into(), h.clone()));
        }
        if let Some(p) = &body.parent_id {
            if p == id {
                return Err(EngineError::invalid(
                    "parent_id",
                    "a department cannot be its own parent",
                ));
            }
            refs.departments.push(("parent_id".into(), p.clone()));
        }
        unprocessable(self.check_refs(tenant, &refs).await?)?;
        let dept = Department {
            id: id.to_string(),
            name: body.name,
            head_id: body.head_id,
            parent_id: body.parent_id,
        };
        let version = self
            .load::<Department>(tenant, Kind::Department, id)
            .await?
            .map_or(0, |(_, v)| v);
        self.ports
            .store
            .transact(vec![put(
                doc(tenant, Kind::Department, id, version + 1, None, &dept),
                cond_for(version),
            )])
            .await?;
        Ok(dept)
    }

    pub async fn get_department(&self, tenant: &str, id: &str) -> Result<Department> {
        Ok(self
            .must(tenant, Kind::Department, "department", id)
            .await?
            .0)
    }

    pub async fn put_user(&self, tenant: &str, id: &str, body: UserBody) -> Result<User> {
        let mut errors = Vec::new();
        let time_zone = body.time_zone.unwrap_or_else(|| "UTC".to_string());
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError {
                field: "time_zone".into(),
                message: format!("unknown time zone '{time_zone}'"),
            });
        }
        let working_hours = body.working_hours.unwrap_or_default();
        if let Err(e) = working_hours.validate() {
            errors.push(FieldError {
                field: e.field().into(),
                message: e.to_string(),
            });
        }
        let mut refs = Refs::default();
        if let Some(d) = &body.department_id {
            refs.departments.push(("department_id".into(), d.clone()));
        }
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;
        let user = User {
            id: id.to_string(),
            name: body.name,
            email: body.email,
            phone: body.phone,
            department_id: body.department_id,
            time_zone,
            working_hours,
            days_off: body.days_off,
        };
        let old = self.load::<User>(tenant, Kind::User, id).await?;
        let version = old.as_ref().map_or(0, |(_, v)| *v);
        // Users are listed per department (for department recipients); the
        // document's parent never changes, so a move re-creates it.
        let parent = user.department_id.as_deref().unwrap_or("");
        let mut writes = Vec::new();
        if let Some((o, v)) = &old
            && o.department_id != user.department_id
        {
            writes.push(Write::Delete {
                key: DocKey::new(tenant, Kind::User, id),
                parent: Some(o.department_id.clone().unwrap_or_default()),
                cond: Cond::Version(*v),
            });
            self.ports.store.transact(writes).await?;
            writes = vec![put(
                doc(tenant, Kind::User, id, 1, Some(parent), &user),
                Cond::Absent,
            )];
        } else {
            writes.push(put(
                doc(tenant, Kind::User, id, version + 1, Some(parent), &user),
                cond_for(version),
            ));
        }
        self.ports.store.transact(writes).await?;
        Ok(user)
    }

    pub async fn get_user(&self, tenant: &str, id: &str) -> Result<User> {
        Ok(self.must(tenant, Kind::User, "user", id).await?.0)
    }

    // ---------------------------------------------------------------- pipelines

    pub async fn put_pipeline(
        &self,
        tenant: &str,
        id: &str,
        body: PipelineBody,
    ) -> Result<Pipeline> {
        let mut errors = Vec::new();
        if let Some(bid) = &body.id
            && bid != id
        {
            errors.push(FieldError {
                field: "id".into(),
                message: format!("'{bid}' does not match the path id '{id}'"),
            });
        }
        let et = body.entity_type.as_str();
        let known_type = matches!(et, "lead" | "deal" | "quote" | "invoice")
            || et.strip_prefix("smart:").is_some_and(|c| !c.is_empty());
        if !known_type {
            errors.push(FieldError {
                field: "entity_type".into(),
                message: format!(
                    "unknown entity type '{et}' (lead, deal, quote, invoice or smart:<code>)"
                ),
            });
        }
        if body.stages.is_empty() {
            errors.push(FieldError {
                field: "stages".into(),
                message: "a pipeline needs at least one stage".into(),
            });
        }
        let mut seen = HashSet::new();
        for (i, s) in body.stages.iter().enumerate() {
            if s.id.trim().is_empty() {
                errors.push(FieldError {
                    field: format!("stages[{i}].id"),
                    message: "must not be empty".into(),
                });
            }
            if !seen.insert(s.id.as_str()) {
                errors.push(FieldError {
                    field: format!("stages[{i}].id"),
                    message: format!("duplicate stage id '{}'", s.id),
                });
            }
        }
        let mut keys = HashSet::new();
        for (i, f) in body.fields.iter().enumerate() {
            if !keys.insert(f.key.as_str()) || f.key.trim().is_empty() {
                errors.push(FieldError {
                    field: format!("fields[{i}].key"),
                    message: format!("empty or duplicate field key '{}'", f.key),
                });
            }
        }
        let old = self.load::<Pipeline>(tenant, Kind::Pipeline, id).await?;
        if let Some((o, _)) = &old {
            if o.entity_type != body.entity_type {
                errors.push(FieldError {
                    field: "entity_type".into(),
                    message: "the entity type of a pipeline cannot change".into(),
                });
            }
            let robots: Vec<Robot> = self.list(tenant, Kind::Robot, id).await?;
            let triggers: Vec<Trigger> = self.list(tenant, Kind::Trigger, id).await?;
            for s in robots
                .iter()
                .map(|r| &r.stage_id)
                .chain(triggers.iter().map(|t| &t.stage_id))
            {
                if !body.stages.iter().any(|x| &x.id == s) {
                    errors.push(FieldError {
                        field: "stages".into(),
                        message: format!(
                            "stage '{s}' still has robots or triggers; delete them first"
                        ),
                    });
                    break;
                }
            }
        }
        unprocessable(errors)?;
        let p = Pipeline {
            id: id.to_string(),
            entity_type: body.entity_type,
            name: body.name,
            stages: body.stages,
            fields: body.fields,
        };
        let version = old.map_or(0, |(_, v)| v);
        self.commit(
            vec![put(
                doc(tenant, Kind::Pipeline, id, version + 1, None, &p),
                cond_for(version),
            )],
            || format!("pipeline '{id}' was changed concurrently"),
        )
        .await?;
        Ok(p)
    }

    pub async fn get_pipeline(&self, tenant: &str, id: &str) -> Result<Pipeline> {
        Ok(self.must(tenant, Kind::Pipeline, "pipeline", id).await?.0)
    }

    // ---------------------------------------------------------------- robots

    async fn next_order(&self, tenant: &str, pipeline_id: &str) -> Result<(u64, Write)> {
        let id = format!("order:{pipeline_id}");
        let cur = self.load::<u64>(tenant, Kind::Counter, &id).await?;
        let (n, v) = cur.map_or((0, 0), |(n, v)| (n, v));
        let w = put(
            doc(tenant, Kind::Counter, &id, v + 1, None, &(n + 1)),
            cond_for(v),
        );
        Ok((n + 1, w))
    }

    fn robot_from_body(
        id: String,
        pipeline_id: &str,
        order: u64,
        body: RobotBody,
    ) -> Result<Robot> {
        if !crate::automation::ROBOT_TYPES.contains(&body.robot_type.as_str()) {
            return Err(EngineError::invalid(
                "type",
                format!("unknown robot type '{}'", body.robot_type),
            ));
        }
        let settings = body
            .settings
            .unwrap_or_else(|| Value::Object(Default::default()));
        let action: Action = serde_json::from_value(serde_json::json!({
            "type": body.robot_type,
            "settings": settings,
        }))
        .map_err(|e| EngineError::bad("settings", e.to_string()))?;
        Ok(Robot {
            name: body
                .name
                .unwrap_or_else(|| action.type_name().replace('_', " ")),
            id,
            pipeline_id: pipeline_id.to_string(),
            stage_id: body.stage_id,
            order,
            action,
            delay: body.delay.unwrap_or_default(),
            respect_working_hours: body.respect_working_hours,
            condition: body.condition,
            after_previous: body.after_previous,
        })
    }

    async fn save_robot(
        &self,
        tenant: &str,
        robot: Robot,
        version: u64,
        extra: Vec<Write>,
    ) -> Result<Robot> {
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", &robot.pipeline_id)
            .await?;
        let robots: Vec<Robot> = self.list(tenant, Kind::Robot, &pipeline.id).await?;
        let (mut errors, refs) = validate_robot(&pipeline, &robots, &robot);
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;
        let mut writes = extra;
        writes.push(put(
            doc(
                tenant,
                Kind::Robot,
                &robot.id,
                version + 1,
                Some(&robot.pipeline_id),
                &robot,
            ),
            cond_for(version),
        ));
        self.commit(writes, || {
            format!(
                "robots of pipeline '{}' were changed concurrently; retry",
                robot.pipeline_id
            )
        })
        .await?;
        Ok(robot)
    }

    pub async fn create_robot(
        &self,
        tenant: &str,
        pipeline_id: &str,
        body: RobotBody,
    ) -> Result<Robot> {
        self.must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", pipeline_id)
            .await?;
        let (order, w) = self.next_order(tenant, pipeline_id).await?;
        let robot =
            Self::robot_from_body(self.ports.ids.next_id("robot"), pipeline_id, order, body)?;
        self.save_robot(tenant, robot, 0, vec![w]).await
    }

    pub async fn list_robots(&self, tenant: &str, pipeline_id: &str) -> Result<Vec<Robot>> {
        self.must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", pipeline_id)
            .await?;
        let mut robots: Vec<Robot> = self.list(tenant, Kind::Robot, pipeline_id).await?;
        robots.sort_by_key(|r| r.order);
        Ok(robots)
    }

    async fn robot_in(
        &self,
        tenant: &str,
        pipeline_id: &str,
        robot_id: &str,
    ) -> Result<(Robot, u64)> {
        match self.load::<Robot>(tenant, Kind::Robot, robot_id).await? {
            Some((r, v)) if r.pipeline_id == pipeline_id => Ok((r, v)),
            _ => Err(EngineError::not_found("robot", robot_id)),
        }
    }

    pub async fn get_robot(
        &self,
        tenant: &str,
        pipeline_id: &str,
        robot_id: &str,
    ) -> Result<Robot> {
        Ok(self.robot_in(tenant, pipeline_id, robot_id).await?.0)
    }

    pub async fn update_robot(
        &self,
        tenant: &str,
        pipeline_id: &str,
        robot_id: &str,
        body: RobotBody,
    ) -> Result<Robot> {
        let (old, v) = self.robot_in(tenant, pipeline_id, robot_id).await?;
        let robot = Self::robot_from_body(old.id, pipeline_id, old.order, body)?;
        self.save_robot(tenant, robot, v, Vec::new()).await
    }

    pub async fn delete_robot(
        &self,
        tenant: &str,
        pipeline_id: &str,
        robot_id: &str,
    ) -> Result<()> {
        let (_, v) = self.robot_in(tenant, pipeline_id, robot_id).await?;
        self.ports
            .store
            .transact(vec![Write::Delete {
                key: DocKey::new(tenant, Kind::Robot, robot_id),
                parent: Some(pipeline_id.to_string()),
                cond: Cond::Version(v),
            }])
            .await?;
        Ok(())
    }

    pub async fn copy_robot(
        &self,
        tenant: &str,
        pipeline_id: &str,
        robot_id: &str,
        body: CopyBody,
    ) -> Result<Robot> {
        let (mut robot, _) = self.robot_in(tenant, pipeline_id, robot_id).await?;
        let (order, w) = self.next_order(tenant, pipeline_id).await?;
        robot.id = self.ports.ids.next_id("robot");
        robot.order = order;
        robot.stage_id = body.stage_id;
        self.save_robot(tenant, robot, 0, vec![w]).await
    }

    // ---------------------------------------------------------------- triggers

    fn trigger_from_body(
        id: String,
        pipeline_id: &str,
        order: u64,
        body: TriggerBody,
    ) -> Result<Trigger> {
        if !TRIGGER_TYPES.contains(&body.trigger_type.as_str()) {
            return Err(EngineError::invalid(
                "type",
                format!("unknown trigger type '{}'", body.trigger_type),
            ));
        }
        let settings = body
            .settings
            .unwrap_or_else(|| Value::Object(Default::default()));
        let kind: TriggerKind = serde_json::from_value(serde_json::json!({
            "type": body.trigger_type,
            "settings": settings,
        }))
        .map_err(|e| EngineError::bad("settings", e.to_string()))?;
        Ok(Trigger {
            name: body
                .name
                .unwrap_or_else(|| kind.type_name().replace('_', " ")),
            id,
            pipeline_id: pipeline_id.to_string(),
            stage_id: body.stage_id,
            order,
            kind,
            condition: body.condition,
            execute_as: body.execute_as,
            allow_backwards: body.allow_backwards,
        })
    }

    async fn save_trigger(
        &self,
        tenant: &str,
        t: Trigger,
        version: u64,
        extra: Vec<Write>,
    ) -> Result<Trigger> {
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", &t.pipeline_id)
            .await?;
        let (mut errors, refs) = validate_trigger(&pipeline, &t);
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;
        let mut writes = extra;
        writes.push(put(
            doc(
                tenant,
                Kind::Trigger,
                &t.id,
                version + 1,
                Some(&t.pipeline_id),
                &t,
            ),
            cond_for(version),
        ));
        self.commit(writes, || {
            format!(
                "triggers of pipeline '{}' were changed concurrently; retry",
                t.pipeline_id
            )
        })
        .await?;
        Ok(t)
    }

    pub async fn create_trigger(
        &self,
        tenant: &str,
        pipeline_id: &str,
        body: TriggerBody,
    ) -> Result<Trigger> {
        self.must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", pipeline_id)
            .await?;
        let (order, w) = self.next_order(tenant, pipeline_id).await?;
        let t =
            Self::trigger_from_body(self.ports.ids.next_id("trigger"), pipeline_id, order, body)?;
        self.save_trigger(tenant, t, 0, vec![w]).await
    }

    pub async fn list_triggers(&self, tenant: &str, pipeline_id: &str) -> Result<Vec<Trigger>> {
        self.must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", pipeline_id)
            .await?;
        let mut v: Vec<Trigger> = self.list(tenant, Kind::Trigger, pipeline_id).await?;
        v.sort_by_key(|t| t.order);
        Ok(v)
    }

    async fn trigger_in(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
    ) -> Result<(Trigger, u64)> {
        match self.load::<Trigger>(tenant, Kind::Trigger, id).await? {
            Some((t, v)) if t.pipeline_id == pipeline_id => Ok((t, v)),
            _ => Err(EngineError::not_found("trigger", id)),
        }
    }

    pub async fn get_trigger(&self, tenant: &str, pipeline_id: &str, id: &str) -> Result<Trigger> {
        Ok(self.trigger_in(tenant, pipeline_id, id).await?.0)
    }

    pub async fn update_trigger(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
        body: TriggerBody,
    ) -> Result<Trigger> {
        let (old, v) = self.trigger_in(tenant, pipeline_id, id).await?;
        let t = Self::trigger_from_body(old.id, pipeline_id, old.order, body)?;
        self.save_trigger(tenant, t, v, Vec::new()).await
    }

    pub async fn delete_trigger(&self, tenant: &str, pipeline_id: &str, id: &str) -> Result<()> {
        let (_, v) = self.trigger_in(tenant, pipeline_id, id).await?;
        self.ports
            .store
            .transact(vec![Write::Delete {
                key: DocKey::new(tenant, Kind::Trigger, id),
                parent: Some(pipeline_id.to_string()),
                cond: Cond::Version(v),
            }])
            .await?;
        Ok(())
    }

    pub async fn copy_trigger(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
        body: CopyBody,
    ) -> Result<Trigger> {
        let (mut t, _) = self.trigger_in(tenant, pipeline_id, id).await?;
        let (order, w) = self.next_order(tenant, pipeline_id).await?;
        t.id = self.ports.ids.next_id("trigger");
        t.order = order;
        t.stage_id = body.stage_id;
        self.save_trigger(tenant, t, 0, vec![w]).await
    }

    // ---------------------------------------------------------------- items

    /// Writes that commit an item change: the item (conditional on its
    /// version), its client index, the timeline entries, and the outbox record.
    pub(crate) fn item_change_writes(
        &self,
        tenant: &str,
        old: Option<&Item>,
        item: &Item,
        change: &ItemChange,
        timeline: Vec<TimelineEntry>,
    ) -> Vec<Write> {
        let mut writes = Vec::new();
        let cond = match old {
            None => Cond::Absent,
            Some(o) => Cond::Version(o.version),
        };
        if change.deleted {
            writes.push(Write::Delete {
                key: DocKey::new(tenant, Kind::Item, &item.id),
                parent: None,
                cond,
            });
        } else {
            writes.push(put(
                doc(tenant, Kind::Item, &item.id, item.version, None, item),
                cond,
            ));
        }
        let old_keys = old.map(|o| client_keys(&o.client)).unwrap_or_default();
        let new_keys = if change.deleted {
            Vec::new()
        } else {
            client_keys(&item.client)
        };
        for k in &old_keys {
            if !new_keys.contains(k) {
                writes.push(Write::Delete {
                    key: DocKey::new(tenant, Kind::ClientIndex, format!("{k}|{}", item.id)),
                    parent: Some(k.clone()),
                    cond: Cond::Any,
                });
            }
        }
        for k in &new_keys {
            if !old_keys.contains(k) {
                writes.push(put(
                    doc(
                        tenant,
                        Kind::ClientIndex,
                        &format!("{k}|{}", item.id),
                        1,
                        Some(k),
                        &item.id,
                    ),
                    Cond::Any,
                ));
            }
        }
        for e in &timeline {
            writes.push(timeline_write(tenant, e));
        }
        writes.push(self.outbox_write(
            tenant,
            &format!("{}|{:012}", item.id, item.version),
            &OutboxRecord::ItemChanged(change.clone()),
        ));
        writes
    }

    /// A transactional-outbox record, written in the same transaction as the
    /// change that causes it.
    pub(crate) fn outbox_write(&self, tenant: &str, id: &str, record: &OutboxRecord) -> Write {
        let parent = self.config.list_outbox.then_some(OUTBOX_PENDING);
        put(
            doc(
                SYSTEM_TENANT,
                Kind::Outbox,
                &format!("{tenant}|{id}"),
                1,
                parent,
                record,
            ),
            Cond::Any,
        )
    }

    pub(crate) fn new_chain(&self) -> Chain {
        Chain {
            id: self.ports.ids.next_id("chain"),
            hops: 0,
        }
    }

    pub async fn create_item(&self, tenant: &str, body: NewItem) -> Result<Item> {
        let (pipeline, _) = match self
            .load::<Pipeline>(tenant, Kind::Pipeline, &body.pipeline_id)
            .await?
        {
            Some(p) => p,
            None => {
                return Err(EngineError::invalid(
                    "pipeline_id",
                    format!("unknown pipeline '{}'", body.pipeline_id),
                ));
            }
        };
        let mut errors = Vec::new();
        if let Some(et) = &body.entity_type
            && et != &pipeline.entity_type
        {
            errors.push(FieldError {
                field: "entity_type".into(),
                message: format!(
                    "pipeline '{}' holds {} items",
                    pipeline.id, pipeline.entity_type
                ),
            });
        }
        let stage_id = body
            .stage_id
            .clone()
            .unwrap_or_else(|| pipeline.stages[0].id.clone());
        if pipeline.stage(&stage_id).is_none() {
            errors.push(FieldError {
                field: "stage_id".into(),
                message: format!("unknown stage '{stage_id}' in pipeline '{}'", pipeline.id),
            });
        }
        if body.title.trim().is_empty() {
            errors.push(FieldError {
                field: "title".into(),
                message: "must not be empty".into(),
            });
        }
        errors.extend(check_fields(&pipeline, &body.fields));
        let refs = Refs {
            users: vec![("responsible_id".into(), body.responsible_id.clone())],
            ..Refs::default()
        };
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;
        let now = self.now();
        let id = self.ports.ids.next_id("item");
        let item = Item {
            id: id.clone(),
            entity_type: pipeline.entity_type.clone(),
            pipeline_id: pipeline.id.clone(),
            stage_id: stage_id.clone(),
            visit: 1,
            visit_started_at: now,
            title: body.title,
            amount: body.amount.unwrap_or(0.0),
            currency: body.currency.unwrap_or_default(),
            responsible_id: body.responsible_id,
            client: body.client.unwrap_or_default(),
            is_repeat: body.is_repeat,
            fields: body
                .fields
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect(),
            created_at: now,
            updated_at: now,
            version: 1,
            chain: self.new_chain(),
        };
        let change = ItemChange {
            tenant: tenant.to_string(),
            item_id: id.clone(),
            version: 1,
            at: now,
            author_id: None,
            stage: Some(StageMove {
                from_stage: None,
                from_visit: 0,
                to_stage: stage_id.clone(),
                to_visit: 1,
            }),
            changed: Vec::new(),
            responsible_changed: false,
            deleted: false,
            chain: item.chain.clone(),
        };
        let stage_name = pipeline
            .stage(&stage_id)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let timeline = vec![TimelineEntry {
            id: timeline_id(now, &format!("{id}-created")),
            item_id: id.clone(),
            at: now,
            kind: "created".into(),
            author_id: None,
            text: format!("Created in stage {stage_name}"),
            data: serde_json::json!({"stage_id": stage_id}),
        }];
        let writes = self.item_change_writes(tenant, None, &item, &change, timeline);
        self.ports.store.transact(writes).await?;
        Ok(item)
    }

    pub async fn get_item(&self, tenant: &str, id: &str) -> Result<Item> {
        self.load_item(tenant, id)
            .await?
            .ok_or_else(|| EngineError::not_found("item", id))
    }

    /// Apply a patch. A changed `stage_id` starts a new visit (a new causal
    /// chain: a person moved it).
    pub async fn patch_item(
        &self,
        tenant: &str,
        id: &str,
        patch: ItemPatch,
        if_match: Option<u64>,
    ) -> Result<Item> {
        let old = self.get_item(tenant, id).await?;
        if let Some(v) = if_match
            && v != old.version
        {
            return Err(EngineError::Conflict(format!(
                "item '{id}' is at version {}, not {v}",
                old.version
            )));
        }
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", &old.pipeline_id)
            .await?;
        let mut errors = Vec::new();
        if let Some(s) = &patch.stage_id
            && pipeline.stage(s).is_none()
        {
            errors.push(FieldError {
                field: "stage_id".into(),
                message: format!("unknown stage '{s}' in pipeline '{}'", pipeline.id),
            });
        }
        if let Some(t) = &patch.title
            && t.trim().is_empty()
        {
            errors.push(FieldError {
                field: "title".into(),
                message: "must not be empty".into(),
            });
        }
        if let Some(f) = &patch.fields {
            errors.extend(check_fields(&pipeline, f));
        }
        let mut refs = Refs::default();
        if let Some(r) = &patch.responsible_id {
            refs.users.push(("responsible_id".into(), r.clone()));
        }
        if let Some(a) = &patch.author_id {
            refs.users.push(("author_id".into(), a.clone()));
        }
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;

        let now = self.now();
        let mut item = old.clone();
        let mut changed = Vec::new();
        macro_rules! set {
            ($field:ident, $path:expr) => {
                if let Some(v) = patch.$field.clone()
                    && item.$field != v
                {
                    item.$field = v;
                    changed.push($path.to_string());
                }
            };
        }
        set!(title, "title");
        set!(amount, "amount");
        set!(currency, "currency");
        set!(is_repeat, "is_repeat");
        set!(responsible_id, "responsible_id");
        if let Some(c) = &patch.client {
            for (path, new, cur) in [
                ("client.name", &c.name, &mut item.client.name),
                ("client.phone", &c.phone, &mut item.client.phone),
                ("client.email", &c.email, &mut item.client.email),
            ] {
                if cur != new {
                    *cur = new.clone();
                    changed.push(path.to_string());
                }
            }
        }
        if let Some(fields) = &patch.fields {
            for (k, v) in fields {
                let cur = item.fields.get(k);
                if v.is_null() {
                    if cur.is_some() {
                        item.fields.remove(k);
                        changed.push(format!("fields.{k}"));
                    }
                } else if cur != Some(v) {
                    item.fields.insert(k.clone(), v.clone());
                    changed.push(format!("fields.{k}"));
                }
            }
        }
        let moved = patch
            .stage_id
            .as_ref()
            .filter(|s| **s != old.stage_id)
            .cloned();
        if changed.is_empty() && moved.is_none() {
            return Ok(old);
        }
        item.chain = self.new_chain();
        let author = patch.author_id.clone();
        let mut timeline = Vec::new();
        let stage = moved.map(|to| {
            self.apply_move(
                &pipeline,
                &mut item,
                &to,
                now,
                author.clone(),
                &mut timeline,
            )
        });
        if !changed.is_empty() {
            timeline.push(TimelineEntry {
                id: timeline_id(now, &format!("{id}-{}-fields", old.version + 1)),
                item_id: id.to_string(),
                at: now,
                kind: "fields_changed".into(),
                author_id: author.clone(),
                text: format!("Changed {}", changed.join(", ")),
                data: serde_json::json!({"fields": changed}),
            });
        }
        item.version = old.version + 1;
        item.updated_at = now;
        let change = ItemChange {
            tenant: tenant.to_string(),
            item_id: id.to_string(),
            version: item.version,
            at: now,
            author_id: author,
            stage,
            responsible_changed: changed.iter().any(|c| c == "responsible_id"),
            changed,
            deleted: false,
            chain: item.chain.clone(),
        };
        let writes = self.item_change_writes(tenant, Some(&old), &item, &change, timeline);
        self.commit(writes, || {
            format!("item '{id}' was changed concurrently; retry")
        })
        .await?;
        Ok(item)
    }

    /// Move `item` to stage `to` in memory: new visit, timeline entry.
    pub(crate) fn apply_move(
        &self,
        pipeline: &Pipeline,
        item: &mut Item,
        to: &str,
        now: DateTime<Utc>,
        author: Option<String>,
        timeline: &mut Vec<TimelineEntry>,
    ) -> StageMove {
        let from = std::mem::replace(&mut item.stage_id, to.to_string());
        let from_visit = item.visit;
        item.visit += 1;
        item.visit_started_at = now;
        let name = |s: &str| pipeline.stage(s).map_or(s.to_string(), |x| x.name.clone());
        timeline.push(TimelineEntry {
            id: timeline_id(now, &format!("{}-visit-{}", item.id, item.visit)),
            item_id: item.id.clone(),
            at: now,
            kind: "stage_changed".into(),
            author_id: author,
            text: format!("Stage changed from {} to {}", name(&from), name(to)),
            data: serde_json::json!({"from": from, "to": to, "visit": item.visit}),
        });
        StageMove {
            from_stage: Some(from),
            from_visit,
            to_stage: to.to_string(),
            to_visit: item.visit,
        }
    }

    pub async fn delete_item(&self, tenant: &str, id: &str, if_match: Option<u64>) -> Result<()> {
        let old = self.get_item(tenant, id).await?;
        if let Some(v) = if_match
            && v != old.version
        {
            return Err(EngineError::Conflict(format!(
                "item '{id}' is at version {}, not {v}",
                old.version
            )));
        }
        let now = self.now();
        let writes = self.delete_writes(tenant, &old, now, None, self.new_chain());
        self.commit(writes, || {
            format!("item '{id}' was changed concurrently; retry")
        })
        .await?;
        Ok(())
    }

    pub(crate) fn delete_writes(
        &self,
        tenant: &str,
        old: &Item,
        now: DateTime<Utc>,
        author: Option<String>,
        chain: Chain,
    ) -> Vec<Write> {
        let mut item = old.clone();
        item.version += 1;
        let change = ItemChange {
            tenant: tenant.to_string(),
            item_id: old.id.clone(),
            version: item.version,
            at: now,
            author_id: author.clone(),
            stage: Some(StageMove {
                from_stage: Some(old.stage_id.clone()),
                from_visit: old.visit,
                to_stage: old.stage_id.clone(),
                to_visit: old.visit,
            }),
            changed: Vec::new(),
            responsible_changed: false,
            deleted: true,
            chain,
        };
        let timeline = vec![TimelineEntry {
            id: timeline_id(now, &format!("{}-deleted", old.id)),
            item_id: old.id.clone(),
            at: now,
            kind: "deleted".into(),
            author_id: author,
            text: "Item deleted".into(),
            data: Value::Null,
        }];
        self.item_change_writes(tenant, Some(old), &item, &change, timeline)
    }

    /// Timeline of an item (kept after the item is deleted), oldest first.
    pub async fn timeline(&self, tenant: &str, item_id: &str) -> Result<Vec<TimelineEntry>> {
        let entries: Vec<TimelineEntry> = self.list(tenant, Kind::Timeline, item_id).await?;
        if entries.is_empty() {
            self.get_item(tenant, item_id).await?;
        }
        Ok(entries)
    }

    /// Run log of an item: robot runs and trigger evaluations, in order of creation.
    pub async fn runs(&self, tenant: &str, item_id: &str) -> Result<Vec<RunRecord>> {
        let mut runs: Vec<RunRecord> = self.list(tenant, Kind::Run, item_id).await?;
        if runs.is_empty() {
            self.get_item(tenant, item_id).await?;
        }
        // Oldest first; the robots of one visit in their stage order.
        let order = |r: &RunRecord| r.robot.as_ref().map_or(u64::MAX, |x| x.order);
        runs.sort_by(|a, b| {
            (a.created_at, a.visit, order(a), &a.id).cmp(&(b.created_at, b.visit, order(b), &b.id))
        });
        Ok(runs)
    }

    // ---------------------------------------------------------------- events

    /// Accept an external event: validate it and queue it for trigger
    /// evaluation. The event id is derived from the idempotency key, so the
    /// same key always names the same event and is applied once.
    pub async fn submit_event(&self, tenant: &str, body: EventBody) -> Result<String> {
        if !TRIGGER_TYPES.contains(&body.event_type.as_str()) {
            return Err(EngineError::invalid(
                "type",
                format!("unknown event type '{}'", body.event_type),
            ));
        }
        if matches!(
            body.event_type.as_str(),
            "field_changed" | "responsible_changed" | "task_status"
        ) {
            return Err(EngineError::invalid(
                "type",
                format!(
                    "'{}' events are raised by the engine itself",
                    body.event_type
                ),
            ));
        }
        match (&body.item_id, &body.client) {
            (Some(item), _) => {
                if self.load_item(tenant, item).await?.is_none() {
                    return Err(EngineError::invalid(
                        "item_id",
                        format!("unknown item '{item}'"),
                    ));
                }
            }
            (None, Some(c)) if !client_ref_keys(c).is_empty() => {}
            _ => {
                return Err(EngineError::invalid(
                    "item_id",
                    "name the item (item_id) or the client (client.phone / client.email)",
                ));
            }
        }
        let data = body.data.unwrap_or(Value::Null);
        if !(data.is_null() || data.is_object()) {
            return Err(EngineError::bad("data", "must be an object"));
        }
        let event_id = match &body.idempotency_key {
            Some(k) if k.trim().is_empty() => {
                return Err(EngineError::invalid("idempotency_key", "must not be empty"));
            }
            Some(k) => format!("evt-{:016x}", hash(&[tenant, k])),
            None => self.ports.ids.next_id("evt"),
        };
        let event = QueuedEvent {
            tenant: tenant.to_string(),
            event_id: event_id.clone(),
            event_type: body.event_type,
            item_id: body.item_id,
            client: body.client,
            data,
            occurred_at: body.occurred_at.unwrap_or_else(|| self.now()),
            chain: None,
        };
        self.ports.events.send(event).await?;
        Ok(event_id)
    }

    /// What became of a processed event. Engine-raised events
    /// (`field_changed`, …) are recorded too. 404 until the event is processed.
    pub async fn get_event(&self, tenant: &str, id: &str) -> Result<crate::model::EventRecord> {
        Ok(self.must(tenant, Kind::Event, "event", id).await?.0)
    }

    // ---------------------------------------------------------------- work records

    pub async fn list_tasks(&self, tenant: &str, item_id: &str) -> Result<Vec<Task>> {
        let mut v: Vec<Task> = self.list(tenant, Kind::Task, item_id).await?;
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    pub async fn get_task(&self, tenant: &str, id: &str) -> Result<Task> {
        let (mut t, v): (Task, u64) = self.must(tenant, Kind::Task, "task", id).await?;
        t.version = v;
        Ok(t)
    }

    /// Change a task's status; a change fires `task_status` triggers of its item.
    pub async fn patch_task(&self, tenant: &str, id: &str, patch: TaskPatch) -> Result<Task> {
        if let Some(a) = &patch.author_id {
            let refs = Refs {
                users: vec![("author_id".into(), a.clone())],
                ..Refs::default()
            };
            unprocessable(self.check_refs(tenant, &refs).await?)?;
        }
        for _ in 0..=self.config.max_retries {
            let old = self.get_task(tenant, id).await?;
            if old.status == patch.status {
                return Ok(old);
            }
            let now = self.now();
            let mut task = old.clone();
            task.status = patch.status;
            task.completed_at = (patch.status == TaskStatus::Completed).then_some(now);
            task.version = old.version + 1;
            let writes = self.task_status_writes(
                tenant,
                &old,
                &task,
                now,
                patch.author_id.clone(),
                self.new_chain(),
            );
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(task),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "task '{id}' is being changed concurrently"
        )))
    }

    /// Writes for a task status change: the task, a timeline entry, and the
    /// `task_status` event (through the outbox).
    pub(crate) fn task_status_writes(
        &self,
        tenant: &str,
        old: &Task,
        task: &Task,
        now: DateTime<Utc>,
        author: Option<String>,
        chain: Chain,
    ) -> Vec<Write> {
        let mut writes = vec![put(
            doc(
                tenant,
                Kind::Task,
                &task.id,
                task.version,
                Some(&task.item_id),
                task,
            ),
            Cond::Version(old.version),
        )];
        let (kind, text) = if task.status == TaskStatus::Completed {
            ("task_completed", format!("Task completed: {}", task.title))
        } else {
            (
                "task_status",
                format!("Task {} is now {}", task.title, task.status.as_str()),
            )
        };
        writes.push(timeline_write(
            tenant,
            &TimelineEntry {
                id: timeline_id(now, &format!("{}-{}", task.id, task.version)),
                item_id: task.item_id.clone(),
                at: now,
                kind: kind.into(),
                author_id: author,
                text,
                data: serde_json::json!({"task_id": task.id, "status": task.status}),
            },
        ));
        let event = QueuedEvent {
            tenant: tenant.to_string(),
            event_id: format!("task-{}-{}", task.id, task.version),
            event_type: "task_status".into(),
            item_id: Some(task.item_id.clone()),
            client: None,
            data: serde_json::json!({"task_id": task.id, "status": task.status}),
            occurred_at: now,
            chain: Some(chain),
        };
        writes.push(self.outbox_write(
            tenant,
            &format!("event|{}", event.event_id),
            &OutboxRecord::Event(event),
        ));
        writes
    }

    pub async fn list_activities(&self, tenant: &str, item_id: &str) -> Result<Vec<Activity>> {
        let mut v: Vec<Activity> = self.list(tenant, Kind::Activity, item_id).await?;
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    pub async fn list_notifications(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Vec<Notification>> {
        let mut v: Vec<Notification> = self.list(tenant, Kind::Notification, user_id).await?;
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }

    pub async fn get_chat(&self, tenant: &str, id: &str) -> Result<(Chat, Vec<Message>)> {
        let (mut chat, v): (Chat, u64) = self.must(tenant, Kind::Chat, "chat", id).await?;
        chat.version = v;
        let mut msgs: Vec<Message> = self
            .list(tenant, Kind::Message, &format!("chat:{id}"))
            .await?;
        msgs.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok((chat, msgs))
    }

    pub async fn list_messages(&self, tenant: &str, user_id: &str) -> Result<Vec<Message>> {
        let mut v: Vec<Message> = self
            .list(tenant, Kind::Message, &format!("user:{user_id}"))
            .await?;
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }

    pub async fn list_feed(&self, tenant: &str) -> Result<Vec<FeedPost>> {
        let mut v: Vec<FeedPost> = self.list(tenant, Kind::FeedPost, "feed").await?;
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }

    pub async fn list_outbound(
        &self,
        tenant: &str,
        channel: Option<Channel>,
    ) -> Result<Vec<Outbound>> {
        let mut v: Vec<Outbound> = Vec::new();
        for c in [Channel::Email, Channel::Sms] {
            if channel.is_none_or(|x| x == c) {
                v.extend(
                    self.list::<Outbound>(tenant, Kind::Outbound, c.as_str())
                        .await?,
                );
            }
        }
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }
}
