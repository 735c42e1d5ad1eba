//! Web forms through the API (issue #15): `POST /v1/forms` makes one,
//! `GET /v1/forms` pages them, `GET/PUT/DELETE /v1/forms/{id}` read,
//! replace and delete one. Writes need an admin key; reads any key of the
//! tenant. The public side (`/f/{form_id}`) is in [`crate::public::forms`].

use axum::extract::State;
use axum::response::Response;
use crm_core::engine::PageRequest;
use crm_core::web_forms::{FormBody, WebForm};
use http::StatusCode;
use serde::Serialize;

use super::created;
use crate::auth::{AdminTenant, Tenant};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::handlers::lists::PageQuery;
use crate::schemas;
use crate::state::AppState;

/// A form as the API shows it: the definition and its public URLs.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FormView {
    /// The definition.
    #[serde(flatten)]
    pub form: WebForm,
    /// The hosted page and the submission URL (put the server's origin before it).
    pub page_path: String,
    /// The snippet: `<script src="<origin>{embed_path}" async></script>`.
    pub embed_path: String,
}

impl From<WebForm> for FormView {
    fn from(form: WebForm) -> Self {
        FormView {
            page_path: format!("/f/{}", form.id),
            embed_path: format!("/f/{}/embed.js", form.id),
            form,
        }
    }
}

/// A page of forms.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FormList {
    /// In id order.
    pub forms: Vec<FormView>,
    /// The `cursor` of the next page (none: this is the last).
    pub next_cursor: Option<String>,
}

const FORM_EXAMPLE: &str = r#"{"name": "Contact us", "pipeline_id": "sales", "stage_id": "new", "responsible_id": "u-anna", "success_message": "Thanks, we will call you.", "fields": [{"name": "name", "label": "Your name", "type": "text", "required": true, "maps_to": "client.name"}, {"name": "email", "label": "E-mail", "type": "email", "required": true, "maps_to": "client.email"}, {"name": "phone", "label": "Phone", "type": "phone", "maps_to": "client.phone"}, {"name": "message", "label": "Message", "type": "textarea"}]}"#;

/// Make a web form.
#[utoipa::path(
    post,
    path = "/v1/forms",
    tag = "forms",
    request_body(content = schemas::FormBody, content_type = "application/json", description = "The form", example = json!(serde_json::from_str::<serde_json::Value>(FORM_EXAMPLE).unwrap())),
    responses(
        (status = 201, description = "Made; `page_path` and `embed_path` are public", body = schemas::FormView),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 422, description = "A bad field (`details` names it: `fields[1].maps_to`, `pipeline_id`, …)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_form(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Json(body): Json<FormBody>,
) -> Result<Response, ApiError> {
    let form = state.engine.create_form(&tenant, body).await?;
    Ok(created(
        format!("/v1/forms/{}", form.id),
        FormView::from(form),
    ))
}

/// The tenant's forms.
#[utoipa::path(
    get,
    path = "/v1/forms",
    tag = "forms",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"forms\": [...], \"next_cursor\"}`", body = schemas::FormList),
        (status = 400, description = "`limit` out of range or a bad cursor", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_forms(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<FormList>, ApiError> {
    let page = state
        .engine
        .forms_page(&tenant, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(FormList {
        forms: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One form.
#[utoipa::path(
    get,
    path = "/v1/forms/{id}",
    tag = "forms",
    params(("id" = String, Path, description = "The form's id")),
    responses(
        (status = 200, description = "The form", body = schemas::FormView),
        (status = 404, description = "No such form in this tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_form(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<FormView>, ApiError> {
    Ok(Json(state.engine.get_form(&tenant, &id).await?.into()))
}

/// Replace a form's definition (its id and public URLs stay).
#[utoipa::path(
    put,
    path = "/v1/forms/{id}",
    tag = "forms",
    params(("id" = String, Path, description = "The form's id")),
    request_body(content = schemas::FormBody, content_type = "application/json", description = "The whole form"),
    responses(
        (status = 200, description = "Replaced", body = schemas::FormView),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 404, description = "No such form in this tenant", body = ErrorBody),
        (status = 409, description = "Changed concurrently", body = ErrorBody),
        (status = 422, description = "A bad field (`details` names it)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn replace_form(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
    Json(body): Json<FormBody>,
) -> Result<Json<FormView>, ApiError> {
    Ok(Json(
        state.engine.replace_form(&tenant, &id, body).await?.into(),
    ))
}

/// Delete a form: its page and posts answer 404 from now on.
#[utoipa::path(
    delete,
    path = "/v1/forms/{id}",
    tag = "forms",
    params(("id" = String, Path, description = "The form's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 404, description = "No such form in this tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_form(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_form(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
