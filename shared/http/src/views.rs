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
