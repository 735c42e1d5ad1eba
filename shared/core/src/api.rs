//! Request bodies of the engine's operations (the JSON shapes of API.md).
//!
//! Wrong JSON types are rejected by deserialization (HTTP 400); everything that
//! deserializes is then validated by the engine (unknown references and rule
//! violations → [`crate::error::EngineError::Unprocessable`], HTTP 422).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::Condition;
use crate::delay::Delay;
use crate::model::{Client, ClientRef, FieldDef, Stage, TaskStatus};
use crate::workhours::WorkingHours;

/// `PUT /v1/departments/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentBody {
    pub name: String,
    #[serde(default)]
    pub head_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// `PUT /v1/users/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub department_id: Option<String>,
    /// IANA time zone; default `UTC`.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub working_hours: Option<WorkingHours>,
    #[serde(default)]
    pub days_off: Vec<NaiveDate>,
}

/// `PUT /v1/pipelines/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineBody {
    /// Optional; when given it must equal the id in the path (so a GET
    /// result can be PUT back).
    #[serde(default)]
    pub id: Option<String>,
    pub entity_type: String,
    pub name: String,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub fields: Vec<FieldDef>,
}

/// `POST /v1/pipelines/{id}/robots`, `PUT …/robots/{robot_id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotBody {
    pub stage_id: String,
    #[serde(rename = "type")]
    pub robot_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub delay: Option<Delay>,
    #[serde(default)]
    pub respect_working_hours: bool,
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub after_previous: bool,
    #[serde(default)]
    pub settings: Option<Value>,
}

/// `POST /v1/pipelines/{id}/triggers`, `PUT …/triggers/{trigger_id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    pub stage_id: String,
    #[serde(rename = "type")]
    pub trigger_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub execute_as: Option<String>,
    #[serde(default)]
    pub allow_backwards: bool,
    #[serde(default)]
    pub settings: Option<Value>,
}

/// `POST …/robots/{id}/copy`, `POST …/triggers/{id}/copy`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    pub stage_id: String,
}

/// `POST /v1/items`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// Must match the pipeline's entity type when given.
    #[serde(default)]
    pub entity_type: Option<String>,
    pub pipeline_id: String,
    /// Default: the pipeline's first stage.
    #[serde(default)]
    pub stage_id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    pub responsible_id: String,
    #[serde(default)]
    pub client: Option<Client>,
    #[serde(default)]
    pub is_repeat: bool,
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
}

/// `PATCH /v1/items/{id}`: only the keys present change. In `fields`, `null`
/// removes a field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    #[serde(default)]
    pub stage_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub client: Option<Client>,
    #[serde(default)]
    pub is_repeat: Option<bool>,
    #[serde(default)]
    pub fields: Option<BTreeMap<String, Value>>,
    /// Author of the change (recorded in the timeline); default: the API.
    #[serde(default)]
    pub author_id: Option<String>,
}

/// `POST /v1/events`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub client: Option<ClientRef>,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// `PATCH /v1/tasks/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    pub status: TaskStatus,
    /// Who changed it (recorded in the timeline).
    #[serde(default)]
    pub author_id: Option<String>,
}
