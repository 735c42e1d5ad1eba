//! Events, and the work records robots create: tasks, activities,
//! notifications, chats, messages, feed posts, outbound email/SMS.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm_core::api::{EventBody, TaskPatch};
use crm_core::model::{Channel, OutboundStatus, Task};
use http::StatusCode;
use serde::Deserialize;

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query, required_param};
use crate::handlers::lists::PageQuery;
use crate::schemas;
use crate::state::AppState;
use crate::views::{
    ActivityList, ChatView, DirectMessageList, EventAccepted, FeedList, NotificationList,
    OutboxList, TaskList,
};
use crm_core::engine::PageRequest;

/// Query of the task and activity lists: by item or by responsible user.
#[derive(Debug, Deserialize)]
pub struct WorkFilter {
    item_id: Option<String>,
    responsible_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Whose records a task or activity list shows.
enum WorkOf {
    Item(String),
    Responsible(String),
}

/// Exactly one of `item_id` and `responsible_id`.
fn work_of(q: &WorkFilter) -> Result<WorkOf, ApiError> {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    match (given(&q.item_id), given(&q.responsible_id)) {
        (Some(i), None) => Ok(WorkOf::Item(i)),
        (None, Some(u)) => Ok(WorkOf::Responsible(u)),
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "responsible_id",
            "give either 'item_id' or 'responsible_id', not both",
        )),
        (None, None) => Err(ApiError::bad_request(
            "item_id",
            "the query parameter 'item_id' (or 'responsible_id') is required",
        )),
    }
}

/// Query of the lists filtered by user.
#[derive(Debug, Deserialize)]
pub struct UserFilter {
    user_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Query of the outbox.
#[derive(Debug, Deserialize)]
pub struct ChannelFilter {
    channel: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
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
    /// Robocalls (`call_client`).
    Call,
    /// Messenger / open-channel messages (`message_client`).
    Messenger,
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

/// The tasks of an item, or of a responsible user.
#[utoipa::path(
    get,
    path = "/v1/tasks",
    tag = "work",
    params(
        ("item_id" = Option<String>, Query, description = "Item whose tasks to list (this or `responsible_id` is required)"),
        ("responsible_id" = Option<String>, Query, description = "User whose tasks to list (those created since per-user lists exist; an unknown user has none)", example = "u-dina"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"tasks\": [...], \"next_cursor\"}`, oldest first", body = schemas::TaskList),
        (status = 400, description = "neither or both of `item_id` and `responsible_id`, `limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<WorkFilter>,
) -> Result<Json<TaskList>, ApiError> {
    let req = PageRequest::new(q.limit, q.cursor.clone());
    let page = match work_of(&q)? {
        WorkOf::Item(id) => state.engine.tasks_page(&tenant, &id, &req).await?,
        WorkOf::Responsible(u) => state.engine.user_tasks_page(&tenant, &u, &req).await?,
    };
    Ok(Json(TaskList {
        tasks: page.items,
        next_cursor: page.next_cursor,
    }))
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

/// The activities of an item, or of a responsible user.
#[utoipa::path(
    get,
    path = "/v1/activities",
    tag = "work",
    params(
        ("item_id" = Option<String>, Query, description = "Item whose activities to list (this or `responsible_id` is required)"),
        ("responsible_id" = Option<String>, Query, description = "User whose activities to list (those created since per-user lists exist; an unknown user has none)", example = "u-dina"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"activities\": [...], \"next_cursor\"}`, oldest first", body = schemas::ActivityList),
        (status = 400, description = "neither or both of `item_id` and `responsible_id`, `limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_activities(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<WorkFilter>,
) -> Result<Json<ActivityList>, ApiError> {
    let req = PageRequest::new(q.limit, q.cursor.clone());
    let page = match work_of(&q)? {
        WorkOf::Item(id) => state.engine.activities_page(&tenant, &id, &req).await?,
        WorkOf::Responsible(u) => state.engine.user_activities_page(&tenant, &u, &req).await?,
    };
    Ok(Json(ActivityList {
        activities: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The notifications of a user.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "work",
    params(
        ("user_id" = String, Query, description = "Recipient (required)", example = "u-boss"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"notifications\": [...], \"next_cursor\"}`, oldest first", body = schemas::NotificationList),
        (status = 400, description = "`user_id` missing, `limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<UserFilter>,
) -> Result<Json<NotificationList>, ApiError> {
    let user_id = required_param(q.user_id, "user_id")?;
    let page = state
        .engine
        .notifications_page(&tenant, &user_id, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(NotificationList {
        notifications: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// A group chat: its fields (members, …) and its messages.
#[utoipa::path(
    get,
    path = "/v1/chats/{id}",
    tag = "work",
    params(
        ("id" = String, Path, description = "Chat id"),
        ("limit" = Option<usize>, Query, description = "Messages per page, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "The chat's fields plus `\"messages\": [...]` (one page, oldest first) and `next_cursor`", body = schemas::ChatView),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
        (status = 404, description = "No such chat", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_chat(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<ChatView>, ApiError> {
    let (chat, page) = state
        .engine
        .chat_page(&tenant, &id, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(ChatView {
        chat,
        messages: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Direct messages to a user.
#[utoipa::path(
    get,
    path = "/v1/messages",
    tag = "work",
    params(
        ("user_id" = String, Query, description = "Recipient (required)", example = "u-boss"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"messages\": [...], \"next_cursor\"}`, oldest first", body = schemas::DirectMessageList),
        (status = 400, description = "`user_id` missing, `limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_messages(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<UserFilter>,
) -> Result<Json<DirectMessageList>, ApiError> {
    let user_id = required_param(q.user_id, "user_id")?;
    let page = state
        .engine
        .messages_page(&tenant, &user_id, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(DirectMessageList {
        messages: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The company feed.
#[utoipa::path(
    get,
    path = "/v1/feed",
    tag = "work",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"posts\": [...], \"next_cursor\"}`, oldest first", body = schemas::FeedList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_feed(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<FeedList>, ApiError> {
    let page = state
        .engine
        .feed_page(&tenant, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(FeedList {
        posts: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Outbound emails, SMS, robocalls and messenger messages (to employees and to clients).
#[utoipa::path(
    get,
    path = "/v1/outbox",
    tag = "work",
    params(
        ("channel" = Option<OutboxChannel>, Query, description = "`email`, `sms`, `call` or `messenger`; all channels when absent"),
        ("status" = Option<String>, Query, description = "Delivery status: `queued`, `sending`, `sent`, `failed` (the dead letter), `bounced` or `complained` (an email refused for good by the recipient's server, or marked as spam, after it was sent); all when absent"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"messages\": [...], \"next_cursor\"}`", body = schemas::OutboxList),
        (status = 400, description = "Unknown `channel` or `status`, `limit` out of range or a cursor this server did not give", body = ErrorBody),
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
        Some(c) => Some(Channel::parse(c).ok_or_else(|| {
            ApiError::bad_request("channel", "must be 'email', 'sms', 'call' or 'messenger'")
        })?),
    };
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(OutboundStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "status",
                "must be 'queued', 'sending', 'sent', 'failed', 'bounced' or 'complained'",
            )
        })?),
    };
    let page = state
        .engine
        .outbound_page(
            &tenant,
            channel,
            status,
            &PageRequest::new(q.limit, q.cursor),
        )
        .await?;
    Ok(Json(OutboxList {
        messages: page.items,
        next_cursor: page.next_cursor,
    }))
}
