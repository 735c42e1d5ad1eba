//! `GET /f/{form_id}` (the hosted form page), `GET /f/{form_id}/embed.js`
//! (the embeddable snippet) and `POST /f/{form_id}` (a submission): public,
//! no API key. An unknown or deleted form → 404, a post over the limit
//! (10 a minute per client IP and form) → 429 with `Retry-After`.
//!
//! A post is `application/x-www-form-urlencoded` (what a browser's form
//! sends) or `application/json` (an object of strings or numbers). The
//! tracker's visitor id may come as the `crm_v` field or `?crm_v=`. Answers:
//! 201 `{"status": "accepted", "message"}` (also when the honeypot
//! `website` was filled: then nothing is done), 422 naming the form's field,
//! and for a browser's plain post (`Accept: text/html`) the same as an HTML
//! page. Every answer carries `Access-Control-Allow-Origin: *`, so the
//! embedded form on the tenant's site can read it; none names the tenant
//! or the item.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use crm_core::web_forms::{FormInput, VISITOR_FIELD, WebForm};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::{client_ip, form_page, limit, rate_limit};
use crate::error::ApiError;
use crate::extract::Path;
use crate::schemas;
use crate::state::AppState;

/// Most values one post may carry.
pub const MAX_VALUES: usize = 60;

/// The answer to an accepted submission.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct FormAccepted {
    /// Always `accepted`.
    pub status: String,
    /// The form's success message.
    pub message: String,
}

/// The body of `POST /f/{form_id}` (documentation): values by field name.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct FormValues(pub BTreeMap<String, String>);

/// The parts of the request a public handler reads.
pub struct Req(pub Parts);

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Req(parts.clone()))
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("no such form")
}

fn with_cors(mut r: Response) -> Response {
    r.headers_mut()
        .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}

async fn find(state: &AppState, id: &str) -> Result<(String, WebForm), ApiError> {
    state.engine.public_form(id).await?.ok_or_else(not_found)
}

fn typed(content_type: &'static str, body: String) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The hosted page of a form.
#[utoipa::path(
    get,
    path = "/f/{form_id}",
    tag = "public",
    params(("form_id" = String, Path, description = "The form's public id (`wf_…`)")),
    responses(
        (status = 200, description = "The form as an HTML page (posts to itself)", content((crate::handlers::documents::BinaryFile = "text/html"))),
        (status = 404, description = "No such form (unknown or deleted)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many requests from this address (`Retry-After`)", body = crate::error::ErrorBody),
    ),
    security(())
)]
pub async fn form_page(
    State(state): State<AppState>,
    Req(parts): Req,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    rendered(
        &state,
        &parts,
        &id,
        "text/html; charset=utf-8",
        form_page::form_page,
    )
    .await
}

/// The embeddable snippet of a form.
#[utoipa::path(
    get,
    path = "/f/{form_id}/embed.js",
    tag = "public",
    params(("form_id" = String, Path, description = "The form's public id (`wf_…`)")),
    responses(
        (status = 200, description = "JavaScript that writes the form where its `<script src=\".../f/{form_id}/embed.js\">` tag stands", content((crate::handlers::documents::BinaryFile = "text/javascript"))),
        (status = 404, description = "No such form", body = crate::error::ErrorBody),
        (status = 429, description = "Too many requests from this address", body = crate::error::ErrorBody),
    ),
    security(())
)]
pub async fn embed_js(
    State(state): State<AppState>,
    Req(parts): Req,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    rendered(
        &state,
        &parts,
        &id,
        "text/javascript; charset=utf-8",
        form_page::embed_js,
    )
    .await
}

/// The form `id` rendered by `render` as `content_type`, within the
/// caller's limit of page loads.
async fn rendered(
    state: &AppState,
    parts: &Parts,
    id: &str,
    content_type: &'static str,
    render: fn(&WebForm) -> String,
) -> Result<Response, ApiError> {
    limit(
        state,
        &format!("page|{}", client_ip(parts)),
        rate_limit::FORM_PAGES,
    )?;
    let (_, form) = find(state, id).await?;
    Ok(typed(content_type, render(&form)))
}

/// The submitted values: urlencoded pairs or a JSON object of scalars.
fn values_of(headers: &HeaderMap, body: &[u8]) -> Result<BTreeMap<String, String>, ApiError> {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut out = BTreeMap::new();
    if ct.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in form_urlencoded::parse(body) {
            out.insert(k.into_owned(), v.into_owned());
            if out.len() > MAX_VALUES {
                break;
            }
        }
    } else if ct.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request("body", format!("not JSON: {e}")))?;
        let Value::Object(map) = v else {
            return Err(ApiError::bad_request("body", "must be a JSON object"));
        };
        for (k, v) in map {
            let s = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => continue,
                _ => {
                    return Err(ApiError::bad_request(k, "must be a string or a number"));
                }
            };
            out.insert(k, s);
        }
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/x-www-form-urlencoded or application/json",
        ));
    }
    if out.len() > MAX_VALUES {
        return Err(ApiError::bad_request(
            "body",
            format!("at most {MAX_VALUES} values"),
        ));
    }
    Ok(out)
}

fn wants_html(parts: &Parts) -> bool {
    let ct = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let accept = parts
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ct.starts_with("application/x-www-form-urlencoded") && accept.contains("text/html")
}

/// Submit a form.
#[utoipa::path(
    post,
    path = "/f/{form_id}",
    tag = "public",
    params(
        ("form_id" = String, Path, description = "The form's public id (`wf_…`)"),
        ("crm_v" = Option<String>, Query, description = "The site tracker's visitor id, tied to the submitting client"),
        ("Idempotency-Key" = Option<String>, Header, description = "A repeated submission with the same key is answered the same and does nothing (kept 7 days)"),
    ),
    request_body(
        content = schemas::FormValues,
        description = "The values by field name (`application/x-www-form-urlencoded` or `application/json`); `website` is the honeypot (must stay empty), `crm_v` the visitor id",
        example = json!({"name": "Ann", "email": "ann@example.com", "message": "Call me"})
    ),
    responses(
        (status = 201, description = "Accepted (also when the honeypot was filled: then nothing was done); HTML for a browser's plain post", body = schemas::FormAccepted),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 404, description = "No such form", body = crate::error::ErrorBody),
        (status = 415, description = "Neither urlencoded nor JSON", body = crate::error::ErrorBody),
        (status = 422, description = "A value is missing or wrong (`details[].field` is the form field's name)", body = crate::error::ErrorBody),
        (status = 429, description = "Over 10 posts a minute from this address to this form (`Retry-After`)", body = crate::error::ErrorBody),
    ),
    security(())
)]
pub async fn submit(
    State(state): State<AppState>,
    Req(parts): Req,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let html = wants_html(&parts);
    let answer = match submit_inner(&state, &parts, &id, &body).await {
        Ok(message) if html => (
            StatusCode::OK,
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            form_page::message_page("Thank you", &message, false),
        )
            .into_response(),
        Ok(message) => (
            StatusCode::CREATED,
            crate::extract::Json(FormAccepted {
                status: "accepted".into(),
                message,
            }),
        )
            .into_response(),
        Err(e) if html => {
            let r = e.clone().into_response();
            let status = r.status();
            (
                status,
                [(CONTENT_TYPE, "text/html; charset=utf-8")],
                form_page::message_page("The form was not sent", &e.to_string(), true),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    };
    with_cors(answer)
}

async fn submit_inner(
    state: &AppState,
    parts: &Parts,
    id: &str,
    body: &[u8],
) -> Result<String, ApiError> {
    let ip = client_ip(parts);
    limit(state, &format!("form|{ip}|{id}"), rate_limit::FORM_POSTS)?;
    let (tenant, form) = find(state, id).await?;
    let mut values = values_of(&parts.headers, body)?;
    if let Some(v) = parts.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == VISITOR_FIELD)
            .map(|(_, v)| v.into_owned())
    }) {
        values.entry(VISITOR_FIELD.to_string()).or_insert(v);
    }
    let idempotency_key = match parts.headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::bad_request("Idempotency-Key", "must be visible ASCII"))?
                .to_string(),
        ),
    };
    let outcome = state
        .engine
        .submit_form(
            &tenant,
            &form,
            FormInput {
                values,
                idempotency_key,
            },
        )
        .await?;
    Ok(outcome.success_message)
}
