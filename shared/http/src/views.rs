//! Response envelopes of the list endpoints and the small bodies this crate
//! owns. Records of the engine are documented as generic JSON objects.

use chrono::{DateTime, Utc};
use crm_core::model::{
    Activity, Chat, FeedPost, Message, Notification, Outbound, RunRecord, Task, TimelineEntry,
};
use crm_core::robots::Robot;
use crm_core::triggers::Trigger;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/pipelines/{id}/robots`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RobotList {
    /// The pipeline's robots in pipeline order.
    #[schema(value_type = Vec<Object>)]
    pub robots: Vec<Robot>,
}

/// `GET /v1/pipelines/{id}/triggers`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TriggerList {
    /// The pipeline's triggers.
    #[schema(value_type = Vec<Object>)]
    pub triggers: Vec<Trigger>,
}

/// `GET /v1/items/{id}/timeline`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineList {
    /// Entries `{"at", "kind", "author_id", "text", …}` in time order.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<TimelineEntry>,
}

/// `GET /v1/items/{id}/runs`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunList {
    /// Every robot run and trigger evaluation of the item.
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<RunRecord>,
}

/// `POST /v1/events` → 202
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventAccepted {
    /// Id of the accepted (or, for a repeated idempotency key, the
    /// previously accepted) event.
    pub event_id: String,
}

/// `GET /v1/tasks?item_id=`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskList {
    /// The item's tasks.
    #[schema(value_type = Vec<Object>)]
    pub tasks: Vec<Task>,
}

/// `GET /v1/activities?item_id=`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActivityList {
    /// The item's activities.
    #[schema(value_type = Vec<Object>)]
    pub activities: Vec<Activity>,
}

/// `GET /v1/notifications?user_id=`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationList {
    /// The user's notifications.
    #[schema(value_type = Vec<Object>)]
    pub notifications: Vec<Notification>,
}

/// `GET /v1/chats/{id}`: the chat's fields plus its messages.
#[derive(Debug, Clone, Serialize)]
pub struct ChatView {
    /// The chat (flattened into the top level).
    #[serde(flatten)]
    pub chat: Chat,
    /// The chat's messages.
    pub messages: Vec<Message>,
}

/// `GET /v1/messages?user_id=`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DirectMessageList {
    /// Direct messages to the user.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Message>,
}

/// `GET /v1/outbox?channel=`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutboxList {
    /// Outbound emails and SMS.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Outbound>,
}

/// `GET /v1/feed`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedList {
    /// The tenant's feed posts.
    #[schema(value_type = Vec<Object>)]
    pub posts: Vec<FeedPost>,
}

/// `GET /v1/health`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the service answers.
    pub status: String,
}

/// `GET /v1/clock`, `POST /v1/clock/advance`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClockNow {
    /// The manual clock's time (RFC 3339).
    pub now: DateTime<Utc>,
}

/// `POST /v1/clock/advance` request body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    /// Seconds to move the clock forward (0 ≤ N ≤ 10 years); 0 only runs
    /// what is already due.
    pub seconds: i64,
}

/// One robot or trigger type of `GET /v1/catalogue`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogueEntry {
    /// The API name, used as `type` when creating a robot or trigger.
    pub name: String,
    /// One line: what the robot does, or when the trigger fires.
    pub description: String,
    /// JSON Schema (draft 2020-12) of the type's `settings` object.
    #[schema(value_type = Object)]
    pub settings_schema: serde_json::Value,
    /// Settings that may be left out, with the value they then take.
    #[schema(value_type = Object)]
    pub defaults: serde_json::Map<String, serde_json::Value>,
    /// Settings that are templates (`{{placeholders}}` are rendered).
    pub templates: Vec<String>,
    /// Robots: what a run produces, usable as `{{robot.<id>.<output>}}`.
    pub outputs: Vec<String>,
    /// Triggers: `outside` (submitted with `POST /v1/events`) or `engine`
    /// (raised by the engine when an item or task changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raised_by: Option<String>,
}

/// `GET /v1/catalogue`
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Catalogue {
    /// Every robot type, in catalogue order.
    pub robots: Vec<CatalogueEntry>,
    /// Every trigger type, in catalogue order.
    pub triggers: Vec<CatalogueEntry>,
}

impl From<crm_core::catalogue::CatalogueEntry> for CatalogueEntry {
    fn from(e: crm_core::catalogue::CatalogueEntry) -> Self {
        CatalogueEntry {
            name: e.name.to_string(),
            description: e.description.to_string(),
            settings_schema: e.settings_schema,
            defaults: e.defaults,
            templates: e.templates,
            outputs: e.outputs.iter().map(|s| s.to_string()).collect(),
            raised_by: e.raised_by.map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            }),
        }
    }
}

impl From<crm_core::catalogue::Catalogue> for Catalogue {
    fn from(c: crm_core::catalogue::Catalogue) -> Self {
        Catalogue {
            robots: c.robots.into_iter().map(Into::into).collect(),
            triggers: c.triggers.into_iter().map(Into::into).collect(),
        }
    }
}
