//! "The item as it is now": what templates and conditions see, and which
//! placeholder paths exist (checked when a robot or trigger is saved).
//!
//! Paths: `id`, `title`, `amount`, `currency`, `entity_type`, `is_repeat`,
//! `stage.id`, `stage.name`, `stage.semantic`, `pipeline.id`, `pipeline.name`,
//! `responsible.id|name|email|phone`, `client.name|phone|email`, `created_at`,
//! `updated_at`, `fields.<key>`, `now`, `robot.<robot_id>.<output>`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::model::{Item, Pipeline, Semantic, Task, User};
use crate::robots::Robot;
use crate::template::Resolve;

/// Outputs of the robots of one visit: robot id → output name → value.
pub type Outputs = BTreeMap<String, BTreeMap<String, Value>>;

/// Resolves placeholder paths against an item.
pub struct ItemContext<'a> {
    pub item: &'a Item,
    pub pipeline: &'a Pipeline,
    pub responsible: Option<&'a User>,
    pub outputs: &'a Outputs,
    pub now: DateTime<Utc>,
}

fn time(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn opt(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

impl Resolve for ItemContext<'_> {
    fn resolve(&self, path: &str) -> Option<Value> {
        let item = self.item;
        let v = match path {
            "id" => Value::String(item.id.clone()),
            "title" => Value::String(item.title.clone()),
            "amount" => {
                serde_json::Number::from_f64(item.amount).map_or(Value::Null, Value::Number)
            }
            "currency" => Value::String(item.currency.clone()),
            "entity_type" => Value::String(item.entity_type.clone()),
            "is_repeat" => Value::Bool(item.is_repeat),
            "created_at" => time(item.created_at),
            "updated_at" => time(item.updated_at),
            "now" => time(self.now),
            "stage.id" => Value::String(item.stage_id.clone()),
            "stage.name" => Value::String(self.pipeline.stage(&item.stage_id)?.name.clone()),
            "stage.semantic" => {
                let s = self.pipeline.stage(&item.stage_id)?.semantic;
                serde_json::to_value(s).ok()?
            }
            "pipeline.id" => Value::String(self.pipeline.id.clone()),
            "pipeline.name" => Value::String(self.pipeline.name.clone()),
            "responsible.id" => Value::String(item.responsible_id.clone()),
            "responsible.name" => Value::String(self.responsible?.name.clone()),
            "responsible.email" => opt(&self.responsible?.email),
            "responsible.phone" => opt(&self.responsible?.phone),
            "client.name" => opt(&item.client.name),
            "client.phone" => opt(&item.client.phone),
            "client.email" => opt(&item.client.email),
            _ => {
                if let Some(key) = path.strip_prefix("fields.") {
                    return item.fields.get(key).cloned();
                }
                let rest = path.strip_prefix("robot.")?;
                let (robot, output) = rest.split_once('.')?;
                return self.outputs.get(robot)?.get(output).cloned();
            }
        };
        Some(v)
    }
}

const ITEM_PATHS: [&str; 21] = [
    "id",
    "title",
    "amount",
    "currency",
    "entity_type",
    "is_repeat",
    "created_at",
    "updated_at",
    "now",
    "stage.id",
    "stage.name",
    "stage.semantic",
    "pipeline.id",
    "pipeline.name",
    "responsible.id",
    "responsible.name",
    "responsible.email",
    "responsible.phone",
    "client.name",
    "client.phone",
    "client.email",
];

/// Is `path` a known item path of this pipeline (not counting robot outputs)?
pub fn is_item_path(pipeline: &Pipeline, path: &str) -> bool {
    if ITEM_PATHS.contains(&path) {
        return true;
    }
    path.strip_prefix("fields.")
        .is_some_and(|k| pipeline.field(k).is_some())
}

/// Is `path` usable in a template or condition of `robot` (given the other
/// robots of the pipeline)? Robot outputs must come from an earlier robot of
/// the same stage that has that output.
pub fn is_robot_path(pipeline: &Pipeline, robots: &[Robot], robot: &Robot, path: &str) -> bool {
    if is_item_path(pipeline, path) {
        return true;
    }
    let Some(rest) = path.strip_prefix("robot.") else {
        return false;
    };
    let Some((rid, output)) = rest.split_once('.') else {
        return false;
    };
    robots.iter().any(|r| {
        r.id == rid
            && r.id != robot.id
            && r.stage_id == robot.stage_id
            && r.order < robot.order
            && r.action.has_output(output)
    })
}

/// An item path a robot may write with `modify_item` (and a `field_changed`
/// trigger may watch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritablePath<'a> {
    Title,
    Amount,
    Currency,
    IsRepeat,
    ResponsibleId,
    ClientName,
    ClientPhone,
    ClientEmail,
    /// `fields.<key>`, a custom field declared on the pipeline.
    Field(&'a str),
}

/// The writable path `path` names in this pipeline, if any.
pub fn writable_path<'a>(pipeline: &Pipeline, path: &'a str) -> Option<WritablePath<'a>> {
    Some(match path {
        "title" => WritablePath::Title,
        "amount" => WritablePath::Amount,
        "currency" => WritablePath::Currency,
        "is_repeat" => WritablePath::IsRepeat,
        "responsible_id" => WritablePath::ResponsibleId,
        "client.name" => WritablePath::ClientName,
        "client.phone" => WritablePath::ClientPhone,
        "client.email" => WritablePath::ClientEmail,
        _ => WritablePath::Field(
            path.strip_prefix("fields.")
                .filter(|k| pipeline.field(k).is_some())?,
        ),
    })
}

/// Item paths a robot may write with `modify_item`.
pub fn is_writable_path(pipeline: &Pipeline, path: &str) -> bool {
    writable_path(pipeline, path).is_some()
}

/// Paths of a task usable in a `task_status` trigger's filter.
pub const TASK_PATHS: [&str; 7] = [
    "id",
    "title",
    "description",
    "responsible_id",
    "status",
    "stage_id",
    "robot_id",
];

/// Resolves [`TASK_PATHS`] against a task.
pub struct TaskContext<'a>(pub &'a Task);

impl Resolve for TaskContext<'_> {
    fn resolve(&self, path: &str) -> Option<Value> {
        let t = self.0;
        Some(Value::String(match path {
            "id" => t.id.clone(),
            "title" => t.title.clone(),
            "description" => t.description.clone(),
            "responsible_id" => t.responsible_id.clone(),
            "status" => t.status.as_str().to_string(),
            "stage_id" => t.stage_id.clone(),
            "robot_id" => t.robot_id.clone(),
            _ => return None,
        }))
    }
}

/// Is this stage a final one (won or lost)?
pub fn is_final(pipeline: &Pipeline, stage_id: &str) -> bool {
    pipeline
        .stage(stage_id)
        .is_some_and(|s| s.semantic != Semantic::Process)
}
