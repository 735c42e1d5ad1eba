//! Events, and the work records robots create: tasks, activities,
//! notifications, chats, messages, feed posts, outbound email/SMS.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm_core::api::{EventBody, TaskPatch};
use crm_core::model::{Channel, Task};
use http::StatusCode;
use serde::Deserialize;

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query, required_param};
use crate::schemas;
use crate::state::AppState;
use crate::views::{
    ActivityList, ChatView, DirectMessageList, EventAccepted, FeedList, NotificationList,
    OutboxList, TaskList,
};

/// Query of the lists filtered by item.
#[derive(Debug, Deserialize)]
pub struct ItemFilter {
    item_id: Option<String>,
}

/// Query of the lists filtered by user.
#[derive(Debug, Deserialize)]
pub struct UserFilter {
    user_id: Option<String>,
}

/// Query of the outbox.
#[derive(Debug, Deserialize)]
pub struct ChannelFilter {
    channel: Option<String>,
}

/// The values of the outbox's `channel` query parameter (documentation
/// only: an other value is a 400).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum OutboxChannel {
    /// Emails.
    Email,
    /// SMS.
    Sms,
}

/// Accept an external event for trigger evaluation.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    request_body(
        content = schemas::EventBody,
        content_type = "application/json",
        description = "`{\"type\", \"item_id\"?, \"client\": {\"phone\"|\"email\"}?, \"data\"?, \"idempotency_key\"?, \"occurred_at\"?}`; the same `idempotency_key` twice is accepted once",
        example = json!({
            "type": "incoming_call", "client": {"phone": "+70000000000"},
            "data": {}, "idempotency_key": "call-42"
        })
    ),
    responses(
        (status = 202, description = "Queued for trigger evaluation", body = schemas::EventAccepted),
        (status = 422, description = "Unknown event type, neither item nor client given, or an invalid `client.email` / `client.phone`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn submit_event(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Json(body): Json<EventBody>,
) -> Result<Response, ApiError> {
    let event_id = state.engine.submit_event(&tenant, body).await?;
    Ok((StatusCode::ACCEPTED, Json(EventAccepted { event_id })).into_response())
}

/// What became of a processed event (`unmatched`, or the items it was
/// evaluated for; each item's run log says which trigger fired or why none did).
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "Event id (as returned by POST /v1/events)")),
    responses(
        (status = 200, description = "The event's record", body = schemas::EventRecord),
        (status = 404, description = "Unknown, or not processed yet", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_event(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<crm_core::model::EventRecord>, ApiError> {
    Ok(Json(state.engine.get_event(&tenant, &id).await?))
}

/// The tasks of an item.
#[utoipa::path(
    get,
    path = "/v1/tasks",
    tag = "work",
    params(("item_id" = String, Query, description = "Item whose tasks to list (required)")),
    responses(
        (status = 200, description = "`{\"tasks\": [...]}`", body = schemas::TaskList),
        (status = 400, description = "`item_id` missing", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<ItemFilter>,
) -> Result<Json<TaskList>, ApiError> {
    let item_id = required_param(q.item_id, "item_id")?;
    let tasks = state.engine.list_tasks(&tenant, &item_id).await?;
    Ok(Json(TaskList { tasks }))
}

/// Read a task.
#[utoipa::path(
    get,
    path = "/v1/tasks/{id}",
    tag = "work",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = schemas::Task),
        (status = 404, description = "No such task", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_task(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(state.engine.get_task(&tenant, &id).await?))
}

/// Change a task's status (fires `task_status` triggers).
#[utoipa::path(
    patch,
    path = "/v1/tasks/{id}",
    tag = "work",
    params(("id" = String, Path, description = "Task id")),
    request_body(
        content = schemas::TaskPatch,
        content_type = "application/json",
        description = "`{\"status\": \"pending\"|\"in_progress\"|\"completed\"|\"deferred\", \"author_id\"?}`",
        example = json!({"status": "completed"})
    ),
    responses(
        (status = 200, description = "The changed task", body = schemas::Task),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "A concurrent change", body = ErrorBody),
        (status = 422, description = "Unknown author", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn patch_task(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Json(patch): Json<TaskPatch>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(state.engine.patch_task(&tenant, &id, patch).await?))
}

/// The activities of an item.
#[utoipa::path(
    get,
    path = "/v1/activities",
    tag = "work",
    params(("item_id" = String, Query, description = "Item whose activities to list (required)")),
    responses(
        (status = 200, description = "`{\"activities\": [...]}`", body = schemas::ActivityList),
        (status = 400, description = "`item_id` missing", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_activities(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<ItemFilter>,
) -> Result<Json<ActivityList>, ApiError> {
    let item_id = required_param(q.item_id, "item_id")?;
    let activities = state.engine.list_activities(&tenant, &item_id).await?;
    Ok(Json(ActivityList { activities }))
}

/// The notifications of a user.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "work",
    params(("user_id" = String, Query, description = "Recipient (required)", example = "u-boss")),
    responses(
        (status = 200, description = "`{\"notifications\": [...]}`", body = schemas::NotificationList),
        (status = 400, description = "`user_id` missing", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<UserFilter>,
) -> Result<Json<NotificationList>, ApiError> {
    let user_id = required_param(q.user_id, "user_id")?;
    let notifications = state.engine.list_notifications(&tenant, &user_id).await?;
    Ok(Json(NotificationList { notifications }))
}

/// A group chat: its fields (members, …) and its messages.
#[utoipa::path(
    get,
    path = "/v1/chats/{id}",
    tag = "work",
    params(("id" = String, Path, description = "Chat id")),
    responses(
        (status = 200, description = "The chat's fields plus `\"messages\": [...]`", body = schemas::ChatView),
        (status = 404, description = "No such chat", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_chat(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<ChatView>, ApiError> {
    let (chat, messages) = state.engine.get_chat(&tenant, &id).await?;
    Ok(Json(ChatView { chat, messages }))
}

/// Direct messages to a user.
#[utoipa::path(
    get,
    path = "/v1/messages",
    tag = "work",
    params(("user_id" = String, Query, description = "Recipient (required)", example = "u-boss")),
    responses(
        (status = 200, description = "`{\"messages\": [...]}`", body = schemas::DirectMessageList),
        (status = 400, description = "`user_id` missing", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_messages(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<UserFilter>,
) -> Result<Json<DirectMessageList>, ApiError> {
    let user_id = required_param(q.user_id, "user_id")?;
    let messages = state.engine.list_messages(&tenant, &user_id).await?;
    Ok(Json(DirectMessageList { messages }))
}

/// The company feed.
#[utoipa::path(
    get,
    path = "/v1/feed",
    tag = "work",
    responses((status = 200, description = "`{\"posts\": [...]}`", body = schemas::FeedList)),
    security(("bearer" = []))
)]
pub async fn list_feed(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<FeedList>, ApiError> {
    let posts = state.engine.list_feed(&tenant).await?;
    Ok(Json(FeedList { posts }))
}

/// Outbound emails and SMS (to employees and to clients).
#[utoipa::path(
    get,
    path = "/v1/outbox",
    tag = "work",
    params(("channel" = Option<OutboxChannel>, Query, description = "`email` or `sms`; all channels when absent")),
    responses(
        (status = 200, description = "`{\"messages\": [...]}`", body = schemas::OutboxList),
        (status = 400, description = "Unknown `channel`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_outbound(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<ChannelFilter>,
) -> Result<Json<OutboxList>, ApiError> {
    let channel = match q.channel.as_deref() {
        None => None,
        Some("email") => Some(Channel::Email),
        Some("sms") => Some(Channel::Sms),
        Some(_) => {
            return Err(ApiError::bad_request("channel", "must be 'email' or 'sms'"));
        }
    };
    let messages = state.engine.list_outbound(&tenant, channel).await?;
    Ok(Json(OutboxList { messages }))
}
