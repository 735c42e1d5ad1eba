//! Documents (issue #13): document templates (`.docx` with `{Placeholder}`
//! fields), numbering rules, and the documents the `create_document` robot
//! makes, with their DOCX/PDF files.
//!
//! A template is uploaded as JSON with the file in base64 (`content`): the
//! request body may be up to [`TEMPLATE_BODY_BYTES`] (larger → 413), the
//! decoded file up to 2 MiB (larger → 422 naming `content`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use crm_core::documents::placeholders::PLACEHOLDERS;
use crm_core::documents::{DocumentView, FileFormat, Numerator, NumeratorBody, TemplateView};
use crm_core::engine::DocumentPage;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use super::{created, segment};
use crate::auth::{AdminTenant, Tenant};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query, required_param};
use crate::schemas;
use crate::state::AppState;

/// A downloaded file: its bytes (documentation only).
pub struct BinaryFile;

impl utoipa::PartialSchema for BinaryFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("The file's bytes"))
            .into()
    }
}

impl utoipa::ToSchema for BinaryFile {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("BinaryFile")
    }
}

/// Largest body of a template upload (the file in base64 and its names).
pub const TEMPLATE_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The body limit of a path, if it is not the API's default.
pub fn body_limit(path: &str) -> Option<usize> {
    path.starts_with("/v1/document-templates")
        .then_some(TEMPLATE_BODY_BYTES)
}

/// A template upload.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Shown in lists and used as the default title of documents.
    pub name: String,
    /// The file's name (default `template.docx`).
    #[serde(default)]
    pub file_name: Option<String>,
    /// The `.docx` file, base64 (standard alphabet, padded), at most 2 MiB decoded.
    pub content: String,
}

/// A page of templates.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TemplateList {
    /// The templates of this page, in id order.
    pub templates: Vec<TemplateView>,
    /// The `cursor` of the next page (none: this is the last).
    pub next_cursor: Option<String>,
}

/// A page of numbering rules.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NumeratorList {
    /// The rules of this page, in id order.
    pub numerators: Vec<Numerator>,
    /// The `cursor` of the next page (none: this is the last).
    pub next_cursor: Option<String>,
}

/// A page of an item's documents.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DocumentList {
    /// The documents of this page, in id order.
    pub documents: Vec<DocumentView>,
    /// The `cursor` of the next page (none: this is the last).
    pub next_cursor: Option<String>,
}

/// One placeholder templates may use.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlaceholderInfo {
    /// `Title`, …; `Field:<key>` stands for any custom field key.
    pub name: String,
    /// What it is replaced by.
    pub description: String,
}

/// Every placeholder templates may use.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlaceholderList {
    /// Every placeholder, `Field:<key>` last.
    pub placeholders: Vec<PlaceholderInfo>,
}

/// Paging of the lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Paging of an item's documents.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    item_id: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Which file of a document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    format: Option<String>,
}

fn decode_content(body: &TemplateBody) -> Result<(String, Vec<u8>), ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.content.trim())
        .map_err(|e| ApiError::unprocessable("content", format!("not base64: {e}")))?;
    let file_name = body
        .file_name
        .clone()
        .unwrap_or_else(|| "template.docx".to_string());
    Ok((file_name, bytes))
}

fn page<T>(p: DocumentPage<T>) -> (Vec<T>, Option<String>) {
    (p.records, p.next_cursor)
}

/// A file download: content type and `Content-Disposition` with the name
/// (an ASCII fallback and the UTF-8 name).
fn file_response(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        segment(name)
    );
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    r
}

/// Upload a document template.
#[utoipa::path(
    post,
    path = "/v1/document-templates",
    tag = "documents",
    request_body(
        content = schemas::TemplateBody,
        content_type = "application/json",
        description = "`{\"name\", \"file_name\"?, \"content\"}`: `content` is the `.docx` in base64 (at most 2 MiB decoded; the body at most 3 MiB). Placeholders: `GET /v1/document-placeholders`",
        example = json!({"name": "Invoice", "file_name": "invoice.docx", "content": "UEsDBBQAAAAIAA..."})
    ),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 201, description = "Stored; `placeholders` lists the ones it holds", body = schemas::DocumentTemplate),
        (status = 413, description = "The body exceeds 3 MiB", body = ErrorBody),
        (status = 422, description = "Not base64, not a .docx, over 2 MiB, or unknown placeholders (`details[0].field` = `content`, the message names them)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_template(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Json(body): Json<TemplateBody>,
) -> Result<Response, ApiError> {
    let (file_name, bytes) = decode_content(&body)?;
    let t = state
        .engine
        .create_template(&tenant, &body.name, &file_name, bytes)
        .await?;
    Ok(created(
        format!("/v1/document-templates/{}", segment(&t.id)),
        TemplateView::from(t),
    ))
}

/// List the document templates.
#[utoipa::path(
    get,
    path = "/v1/document-templates",
    tag = "documents",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"templates\": [...], \"next_cursor\"}`", body = schemas::TemplateList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_templates(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<TemplateList>, ApiError> {
    let (templates, next_cursor) = page(
        state
            .engine
            .list_templates(&tenant, q.cursor.as_deref(), q.limit)
            .await?,
    );
    Ok(Json(TemplateList {
        templates: templates.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Read a document template.
#[utoipa::path(
    get,
    path = "/v1/document-templates/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Template id")),
    responses(
        (status = 200, description = "The template", body = schemas::DocumentTemplate),
        (status = 404, description = "No such template", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_template(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<TemplateView>, ApiError> {
    Ok(Json(state.engine.get_template(&tenant, &id).await?.into()))
}

/// Replace a template's name and file (documents made before keep theirs).
#[utoipa::path(
    put,
    path = "/v1/document-templates/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Template id")),
    request_body(
        content = schemas::TemplateBody,
        content_type = "application/json",
        description = "As for `POST /v1/document-templates`"
    ),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 200, description = "Replaced", body = schemas::DocumentTemplate),
        (status = 404, description = "No such template", body = ErrorBody),
        (status = 409, description = "Changed meanwhile", body = ErrorBody),
        (status = 413, description = "The body exceeds 3 MiB", body = ErrorBody),
        (status = 422, description = "As for the upload", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn replace_template(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
    Json(body): Json<TemplateBody>,
) -> Result<Json<TemplateView>, ApiError> {
    let (file_name, bytes) = decode_content(&body)?;
    Ok(Json(
        state
            .engine
            .replace_template(&tenant, &id, &body.name, &file_name, bytes)
            .await?
            .into(),
    ))
}

/// Delete a template and its file (documents made from it stay; robots
/// that use it fail with the reason until changed).
#[utoipa::path(
    delete,
    path = "/v1/document-templates/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Template id")),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such template", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_template(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_template(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Download a template's `.docx`.
#[utoipa::path(
    get,
    path = "/v1/document-templates/{id}/file",
    tag = "documents",
    params(("id" = String, Path, description = "Template id")),
    responses(
        (status = 200, description = "The `.docx` (`Content-Disposition: attachment`)",
            content((BinaryFile = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))),
        (status = 404, description = "No such template", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn template_file(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let t = state.engine.get_template(&tenant, &id).await?;
    let bytes = state
        .engine
        .template_file(&tenant, &t)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("the file of template '{id}' is missing")))?;
    Ok(file_response(
        bytes,
        FileFormat::Docx.content_type(),
        &t.file_name,
    ))
}

/// The placeholders templates may use.
#[utoipa::path(
    get,
    path = "/v1/document-placeholders",
    tag = "documents",
    responses((status = 200, description = "`{\"placeholders\": [{\"name\", \"description\"}]}`", body = schemas::PlaceholderList)),
    security(("bearer" = []))
)]
pub async fn placeholders(Tenant(_tenant): Tenant) -> Json<PlaceholderList> {
    Json(PlaceholderList {
        placeholders: PLACEHOLDERS
            .iter()
            .map(|(n, d)| PlaceholderInfo {
                name: (*n).to_string(),
                description: (*d).to_string(),
            })
            .collect(),
    })
}

/// Add a numbering rule.
#[utoipa::path(
    post,
    path = "/v1/numerators",
    tag = "documents",
    request_body(
        content = schemas::NumeratorBody,
        content_type = "application/json",
        description = "`{\"name\", \"template\", \"start\"?, \"step\"?, \"padding\"?, \"reset\"?}`: `template` holds `{NUMBER}` once and any of `{YYYY}`, `{YY}`, `{MM}`, `{DD}` (UTC); `reset`: `never` (default), `year`, `month`, `day`",
        example = json!({"name": "Invoices", "template": "INV-{YYYY}-{NUMBER}", "start": 1, "step": 1, "padding": 4, "reset": "year"})
    ),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 201, description = "Created", body = schemas::Numerator),
        (status = 422, description = "A bad template, start, step or padding (`details` name them)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_numerator(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Json(body): Json<NumeratorBody>,
) -> Result<Response, ApiError> {
    let n = state.engine.create_numerator(&tenant, body).await?;
    Ok(created(format!("/v1/numerators/{}", segment(&n.id)), n))
}

/// List the numbering rules.
#[utoipa::path(
    get,
    path = "/v1/numerators",
    tag = "documents",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"numerators\": [...], \"next_cursor\"}`", body = schemas::NumeratorList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_numerators(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<NumeratorList>, ApiError> {
    let (numerators, next_cursor) = page(
        state
            .engine
            .list_numerators(&tenant, q.cursor.as_deref(), q.limit)
            .await?,
    );
    Ok(Json(NumeratorList {
        numerators,
        next_cursor,
    }))
}

/// Read a numbering rule.
#[utoipa::path(
    get,
    path = "/v1/numerators/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Numerator id")),
    responses(
        (status = 200, description = "The rule", body = schemas::Numerator),
        (status = 404, description = "No such rule", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_numerator(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Numerator>, ApiError> {
    Ok(Json(state.engine.get_numerator(&tenant, &id).await?))
}

/// Change a numbering rule (its sequence goes on from the last number given).
#[utoipa::path(
    put,
    path = "/v1/numerators/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Numerator id")),
    request_body(content = schemas::NumeratorBody, content_type = "application/json", description = "As for `POST /v1/numerators`"),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 200, description = "Changed", body = schemas::Numerator),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 409, description = "Changed meanwhile", body = ErrorBody),
        (status = 422, description = "As for `POST /v1/numerators`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_numerator(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
    Json(body): Json<NumeratorBody>,
) -> Result<Json<Numerator>, ApiError> {
    Ok(Json(
        state.engine.update_numerator(&tenant, &id, body).await?,
    ))
}

/// Delete a numbering rule and its counter.
#[utoipa::path(
    delete,
    path = "/v1/numerators/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Numerator id")),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such rule", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_numerator(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_numerator(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The documents of an item (a deleted item's documents stay readable).
#[utoipa::path(
    get,
    path = "/v1/documents",
    tag = "documents",
    params(
        ("item_id" = String, Query, description = "Item whose documents to list (required)"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"documents\": [...], \"next_cursor\"}`", body = schemas::DocumentList),
        (status = 400, description = "`item_id` missing, `limit` out of range or a bad cursor", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_documents(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<DocumentQuery>,
) -> Result<Json<DocumentList>, ApiError> {
    let item_id = required_param(q.item_id, "item_id")?;
    let (documents, next_cursor) = page(
        state
            .engine
            .list_documents(&tenant, &item_id, q.cursor.as_deref(), q.limit)
            .await?,
    );
    Ok(Json(DocumentList {
        documents: documents.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Read a document.
#[utoipa::path(
    get,
    path = "/v1/documents/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Document id (output `document_id` of the robot)")),
    responses(
        (status = 200, description = "The document: number, title, files (each with its `url`)", body = schemas::Document),
        (status = 404, description = "No such document", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_document(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<DocumentView>, ApiError> {
    Ok(Json(state.engine.get_document(&tenant, &id).await?.into()))
}

/// Download a document's file.
#[utoipa::path(
    get,
    path = "/v1/documents/{id}/file",
    tag = "documents",
    params(
        ("id" = String, Path, description = "Document id"),
        ("format" = String, Query, description = "`pdf` or `docx` (required)"),
    ),
    responses(
        (status = 200, description = "The file (`Content-Disposition: attachment` with the document's name)",
            content((BinaryFile = "application/pdf"), (BinaryFile = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))),
        (status = 400, description = "`format` missing or not `pdf`/`docx`", body = ErrorBody),
        (status = 404, description = "No such document, or it was not made in that format", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn document_file(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let raw = required_param(q.format, "format")?;
    let format = FileFormat::parse(&raw)
        .ok_or_else(|| ApiError::bad_request("format", "must be 'pdf' or 'docx'"))?;
    let (d, bytes) = state.engine.document_file(&tenant, &id, format).await?;
    let name = format!("{}.{}", d.file_name, format.as_str());
    Ok(file_response(bytes, format.content_type(), &name))
}
