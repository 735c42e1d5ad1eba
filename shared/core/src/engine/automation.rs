//! Robots and triggers of a pipeline: create, list, read, update, delete and
//! copy, written once for both through [`Automation`].
//!
//! A robot or trigger is stored under its pipeline; its `order` (creation
//! order within the pipeline) comes from a per-pipeline counter written in
//! the same transaction. Saving checks it against its pipeline (and, for a
//! robot, the pipeline's other robots: outputs of earlier robots) and the
//! users, departments and pipelines it names.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Engine, unprocessable};
use crate::api::{CopyBody, RobotBody, TriggerBody};
use crate::check::Refs;
use crate::error::{EngineError, FieldError, Result};
use crate::model::Pipeline;
use crate::ports::{Cond, DocKey, Kind, StoreError, Write};
use crate::robots::{Action, ROBOT_TYPES, Robot, validate_robot};
use crate::store::{Record, cond_for, doc, put, record_doc};
use crate::triggers::{TRIGGER_TYPES, Trigger, TriggerKind, validate_trigger};

/// How often a write that names no version is retried after another writer
/// changed the same records first (each retry re-reads them).
const RACE_RETRIES: usize = 16;

/// What robots and triggers have in common, as stored configuration.
pub trait Automation: Record + Send + Sync + Sized {
    /// `"robot"` or `"trigger"`: the id prefix and the word in errors.
    const WHAT: &'static str;
    /// Whether the checks need the pipeline's others of the same kind.
    const CHECKS_SIBLINGS: bool;
    /// The API body of a create or replace.
    type Body: Send + Sync + Clone;

    /// Build from an API body; `id` and `order` are assigned by the engine.
    fn from_body(id: String, pipeline_id: &str, order: u64, body: Self::Body) -> Result<Self>;
    fn pipeline_id(&self) -> &str;
    /// The stage it belongs to.
    fn stage_id(&self) -> &str;
    fn order(&self) -> u64;
    /// A copy placed on another stage under a new id and order.
    fn placed(self, id: String, order: u64, stage_id: String) -> Self;
    /// Save-time checks against the pipeline (and the siblings, if asked for).
    fn validate(&self, pipeline: &Pipeline, siblings: &[Self]) -> (Vec<FieldError>, Refs);
    /// What replacing `old` by `new` (`None`: deleting it) would break in
    /// the others of the pipeline (`siblings`, `old` among them): one
    /// problem per other that would break, naming it.
    fn breaks(
        pipeline: &Pipeline,
        siblings: &[Self],
        old: &Self,
        new: Option<&Self>,
    ) -> Vec<FieldError> {
        let _ = (pipeline, siblings, old, new);
        Vec::new()
    }
    /// An application robot (`app.<code>`): the type's code.
    fn app_code(&self) -> Option<&str> {
        None
    }
    /// Check an application robot against its registered type (`None`: not
    /// registered) and take the type's outputs.
    fn resolve_app(
        &mut self,
        def: Option<&crate::apps::robot_type::RobotTypeDef>,
    ) -> Vec<FieldError> {
        let _ = def;
        Vec::new()
    }
    /// What deleting it writes besides the deletion (same transaction).
    fn deletion_writes(&self, tenant: &str, at: chrono::DateTime<chrono::Utc>) -> Vec<Write> {
        let _ = (tenant, at);
        Vec::new()
    }
}

/// The typed `{"type", "settings"}` of an API body; a type not in `types`
/// is a 422, settings of the wrong shape a 400.
fn typed<T: DeserializeOwned>(
    what: &str,
    types: &[&str],
    type_name: &str,
    settings: Option<Value>,
) -> Result<T> {
    let app = what == "robot" && type_name.starts_with(crate::apps::APP_PREFIX);
    if !types.contains(&type_name) && !app {
        return Err(EngineError::invalid(
            "type",
            format!("unknown {what} type '{type_name}'"),
        ));
    }
    let settings = settings.unwrap_or_else(|| Value::Object(Default::default()));
    serde_json::from_value(serde_json::json!({"type": type_name, "settings": &settings})).map_err(
        |e| {
            // A placeholder syntax error is a 422 naming its setting (API.md),
            // not a wrong type.
            let message = e.to_string();
            match crate::template::first_syntax_error(&settings, "settings") {
                Some((field, err)) if message.contains(&err.to_string()) => {
                    EngineError::invalid(field, err.to_string())
                }
                _ => EngineError::bad("settings", message),
            }
        },
    )
}

/// The placement accessors of a robot or trigger (same fields in both).
macro_rules! placement {
    ($t:ident) => {
        fn pipeline_id(&self) -> &str {
            &self.pipeline_id
        }
        fn stage_id(&self) -> &str {
            &self.stage_id
        }
        fn order(&self) -> u64 {
            self.order
        }
        fn placed(self, id: String, order: u64, stage_id: String) -> Self {
            $t {
                id,
                order,
                stage_id,
                ..self
            }
        }
    };
}

impl Automation for Robot {
    /// The reports keep a deleted robot for the periods it ran in.
    fn deletion_writes(&self, tenant: &str, at: chrono::DateTime<chrono::Utc>) -> Vec<Write> {
        vec![crate::reports::deleted_robots::keep_write(tenant, self, at)]
    }
    const WHAT: &'static str = "robot";
    const CHECKS_SIBLINGS: bool = true;
    type Body = RobotBody;

    fn app_code(&self) -> Option<&str> {
        match &self.action {
            Action::App(a) => Some(&a.code),
            _ => None,
        }
    }

    fn resolve_app(
        &mut self,
        def: Option<&crate::apps::robot_type::RobotTypeDef>,
    ) -> Vec<FieldError> {
        let Action::App(a) = &mut self.action else {
            return Vec::new();
        };
        if let Some(def) = def
            && self.name == "app"
        {
            self.name = def.name.clone();
        }
        a.resolve(def)
    }

    fn from_body(id: String, pipeline_id: &str, order: u64, body: RobotBody) -> Result<Self> {
        let action: Action = typed("robot", ROBOT_TYPES, &body.robot_type, body.settings)?;
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
            wait_for: body.wait_for,
            wait_timeout: body.wait_timeout,
            on_timeout: body.on_timeout,
        })
    }
    placement!(Robot);
    fn validate(&self, pipeline: &Pipeline, siblings: &[Self]) -> (Vec<FieldError>, Refs) {
        validate_robot(pipeline, siblings, self)
    }
    /// Outputs are protected: a robot whose output (`{{robot.<id>.<output>}}`
    /// in a template, condition or `modify_item` value) another robot of its
    /// stage uses cannot lose it — by a change of type, a move to another
    /// stage or after the user, or deletion.
    fn breaks(
        pipeline: &Pipeline,
        siblings: &[Self],
        old: &Self,
        new: Option<&Self>,
    ) -> Vec<FieldError> {
        let needle = format!("robot.{}.", old.id);
        let after: Vec<Robot> = siblings
            .iter()
            .filter(|r| r.id != old.id)
            .chain(new)
            .cloned()
            .collect();
        let mut problems = Vec::new();
        let mut users: Vec<&Robot> = siblings
            .iter()
            .filter(|r| r.id != old.id && r.stage_id == old.stage_id)
            .collect();
        users.sort_by_key(|r| r.order);
        for user in users {
            if !serde_json::to_string(user).is_ok_and(|s| s.contains(&needle)) {
                continue;
            }
            let (before, _) = validate_robot(pipeline, siblings, user);
            let (now, _) = validate_robot(pipeline, &after, user);
            let lost: Vec<String> = now
                .into_iter()
                .filter(|e| !before.contains(e))
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            if !lost.is_empty() {
                problems.push(FieldError {
                    field: format!("robots.{}", user.id),
                    message: format!(
                        "robot '{}' ({}) uses outputs of robot '{}' ({}); change or delete it first ({})",
                        user.name,
                        user.id,
                        old.name,
                        old.id,
                        lost.join("; ")
                    ),
                });
            }
        }
        problems
    }
}

impl Automation for Trigger {
    const WHAT: &'static str = "trigger";
    const CHECKS_SIBLINGS: bool = false;
    type Body = TriggerBody;

    fn from_body(id: String, pipeline_id: &str, order: u64, body: TriggerBody) -> Result<Self> {
        let kind: TriggerKind = typed("trigger", TRIGGER_TYPES, &body.trigger_type, body.settings)?;
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
    placement!(Trigger);
    fn validate(&self, pipeline: &Pipeline, _: &[Self]) -> (Vec<FieldError>, Refs) {
        validate_trigger(pipeline, self)
    }
}

impl Engine {
    /// The next position in the pipeline, and the counter write that takes it.
    async fn next_order(&self, tenant: &str, pipeline_id: &str) -> Result<(u64, Write)> {
        let id = format!("order:{pipeline_id}");
        let (n, v) = self
            .load_kind::<u64>(tenant, Kind::Counter, &id)
            .await?
            .unwrap_or((0, 0));
        let w = put(
            doc(tenant, Kind::Counter, &id, v + 1, None, &(n + 1)),
            cond_for(v),
        );
        Ok((n + 1, w))
    }

    /// Check and store `a` (read at `version`, 0 = new; replacing `old`)
    /// with `extra` writes.
    async fn save<A: Automation>(
        &self,
        tenant: &str,
        a: A,
        version: u64,
        extra: Vec<Write>,
        old: Option<&A>,
    ) -> Result<A> {
        let mut a = a;
        let mut app_errors = Vec::new();
        if let Some(code) = a.app_code().map(str::to_string) {
            let def = self.find_robot_type(tenant, &code).await?;
            app_errors = a.resolve_app(def.as_ref());
        }
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, "pipeline", a.pipeline_id())
            .await?;
        let siblings: Vec<A> = self.list(tenant, &pipeline.id).await?;
        let mut errors = super::automation_limits::limit_errors(&a, &siblings);
        let checked: &[A] = if A::CHECKS_SIBLINGS { &siblings } else { &[] };
        let (more, refs) = a.validate(&pipeline, checked);
        errors.extend(more);
        errors.extend(app_errors);
        if let Some(old) = old {
            errors.extend(A::breaks(&pipeline, &siblings, old, Some(&a)));
        }
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;
        let mut writes = extra;
        writes.push(put(record_doc(tenant, &a, version + 1), cond_for(version)));
        self.commit(writes, || {
            format!(
                "{}s of pipeline '{}' were changed concurrently; retry",
                A::WHAT,
                a.pipeline_id()
            )
        })
        .await?;
        Ok(a)
    }

    /// One robot or trigger of the pipeline, with its version.
    async fn one_in<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
    ) -> Result<(A, u64)> {
        match self.load::<A>(tenant, id).await? {
            Some((a, v)) if a.pipeline_id() == pipeline_id => Ok((a, v)),
            _ => Err(EngineError::not_found(A::WHAT, id)),
        }
    }

    /// Add a robot or trigger to the pipeline. The caller named no version,
    /// so a lost race with another writer (the position counter) is retried.
    pub async fn create<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        body: A::Body,
    ) -> Result<A> {
        let mut tries = 0;
        loop {
            match self
                .try_create::<A>(tenant, pipeline_id, body.clone())
                .await
            {
                Err(EngineError::Conflict(_)) if tries < RACE_RETRIES => tries += 1,
                r => return r,
            }
        }
    }

    async fn try_create<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        body: A::Body,
    ) -> Result<A> {
        self.must::<Pipeline>(tenant, "pipeline", pipeline_id)
            .await?;
        let (order, w) = self.next_order(tenant, pipeline_id).await?;
        let id = self.ports.ids.next_id(A::WHAT);
        let a = A::from_body(id, pipeline_id, order, body)?;
        self.save(tenant, a, 0, vec![w], None).await
    }

    /// The pipeline's robots or triggers, in creation order.
    pub async fn list_of<A: Automation>(&self, tenant: &str, pipeline_id: &str) -> Result<Vec<A>> {
        self.must::<Pipeline>(tenant, "pipeline", pipeline_id)
            .await?;
        let mut v: Vec<A> = self.list(tenant, pipeline_id).await?;
        v.sort_by_key(A::order);
        Ok(v)
    }

    /// One robot or trigger of the pipeline.
    pub async fn get_one<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
    ) -> Result<A> {
        Ok(self.one_in(tenant, pipeline_id, id).await?.0)
    }

    /// Replace a robot or trigger (it keeps its id and position). The
    /// request names no version: the last writer wins, so a lost race is
    /// retried against the newer version.
    pub async fn update<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
        body: A::Body,
    ) -> Result<A> {
        let mut tries = 0;
        loop {
            let (old, v) = self.one_in::<A>(tenant, pipeline_id, id).await?;
            let a = A::from_body(old.id().to_string(), pipeline_id, old.order(), body.clone())?;
            match self.save(tenant, a, v, Vec::new(), Some(&old)).await {
                Err(EngineError::Conflict(_)) if tries < RACE_RETRIES => tries += 1,
                r => return r,
            }
        }
    }

    /// Delete a robot or trigger (retried if another writer changed it
    /// between the read and the delete).
    pub async fn delete<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
    ) -> Result<()> {
        let mut tries = 0;
        while let Err(e) = self.try_delete::<A>(tenant, pipeline_id, id).await {
            match e {
                EngineError::Store(StoreError::Conflict { .. }) if tries < RACE_RETRIES => {
                    tries += 1
                }
                e => return Err(e),
            }
        }
        if A::KIND == Kind::Robot {
            // The first page now; the deletion's outbox record does the rest.
            self.cancel_robot_runs_page(tenant, id, None).await?;
        }
        Ok(())
    }

    /// Check and remove the record (with a robot, the outbox record that
    /// cancels its pending runs: `deleted_robot_runs.rs`).
    async fn try_delete<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
    ) -> Result<()> {
        let (old, v) = self.one_in::<A>(tenant, pipeline_id, id).await?;
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, "pipeline", pipeline_id)
            .await?;
        let siblings: Vec<A> = if A::CHECKS_SIBLINGS {
            self.list(tenant, pipeline_id).await?
        } else {
            Vec::new()
        };
        unprocessable(A::breaks(&pipeline, &siblings, &old, None))?;
        let mut writes = vec![Write::Delete {
            key: DocKey::new(tenant, A::KIND, id),
            parent: Some(pipeline_id.to_string()),
            cond: Cond::Version(v),
        }];
        writes.extend(old.deletion_writes(tenant, self.now()));
        if A::KIND == Kind::Robot {
            writes.push(self.runs_cancel_write(tenant, id, 0, None));
        }
        self.ports.store.transact(writes).await?;
        Ok(())
    }

    /// Copy a robot or trigger to a stage (a new id, the last position); a
    /// lost race for the position is retried.
    pub async fn copy<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        id: &str,
        body: CopyBody,
    ) -> Result<A> {
        let mut tries = 0;
        loop {
            let (a, _) = self.one_in::<A>(tenant, pipeline_id, id).await?;
            let (order, w) = self.next_order(tenant, pipeline_id).await?;
            let a = a.placed(
                self.ports.ids.next_id(A::WHAT),
                order,
                body.stage_id.clone(),
            );
            match self.save(tenant, a, 0, vec![w], None).await {
                Err(EngineError::Conflict(_)) if tries < RACE_RETRIES => tries += 1,
                r => return r,
            }
        }
    }
}

/// The named operations of one kind (`create_robot`, `list_triggers`, …),
/// each the generic operation above.
macro_rules! named_operations {
    ($ty:ty: $create:ident, $list:ident, $get:ident, $update:ident, $delete:ident, $copy:ident) => {
        impl Engine {
            pub async fn $create(
                &self,
                t: &str,
                p: &str,
                body: <$ty as Automation>::Body,
            ) -> Result<$ty> {
                self.create(t, p, body).await
            }
            pub async fn $list(&self, t: &str, p: &str) -> Result<Vec<$ty>> {
                self.list_of(t, p).await
            }
            pub async fn $get(&self, t: &str, p: &str, id: &str) -> Result<$ty> {
                self.get_one(t, p, id).await
            }
            pub async fn $update(
                &self,
                t: &str,
                p: &str,
                id: &str,
                body: <$ty as Automation>::Body,
            ) -> Result<$ty> {
                self.update(t, p, id, body).await
            }
            pub async fn $delete(&self, t: &str, p: &str, id: &str) -> Result<()> {
                self.delete::<$ty>(t, p, id).await
            }
            pub async fn $copy(&self, t: &str, p: &str, id: &str, body: CopyBody) -> Result<$ty> {
                self.copy(t, p, id, body).await
            }
        }
    };
}

named_operations!(Robot: create_robot, list_robots, get_robot, update_robot, delete_robot, copy_robot);
named_operations!(Trigger: create_trigger, list_triggers, get_trigger, update_trigger, delete_trigger, copy_trigger);
