//! Extractors whose rejections are [`ApiError`]s, so that every failure has
//! the common error shape.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::StatusCode;
use http::header::{CONTENT_TYPE, IF_MATCH};
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::MAX_BODY_BYTES;
use crate::error::ApiError;

/// A JSON request or response body.
///
/// As an extractor: a missing or non-JSON `Content-Type` → 415; malformed
/// JSON → 400 naming the line and column; a wrong type, a missing or an
/// unknown field → 400 naming the field (path such as `stages[0].semantic`);
/// a body over [`MAX_BODY_BYTES`] → 413. As a response: `application/json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned + Serialize,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !has_json_content_type(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if is_timeout(&e) {
                request_timeout()
            } else {
                json_rejection(e.into())
            }
        })?;
        // Every body of this API is an object; serde would otherwise accept
        // an array as a struct, field by field.
        if let Some(&first) = bytes.iter().find(|b| !b.is_ascii_whitespace())
            && first != b'{'
        {
            return Err(ApiError::bad_request(
                "body",
                "the request body must be a JSON object",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => {
                if let Some(path) = array_for_object(&bytes, &value) {
                    return Err(ApiError::bad_request(
                        path,
                        "must be a JSON object, not an array",
                    ));
                }
                Ok(Json(value))
            }
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// serde's derived `Deserialize` accepts a JSON array for a nested struct
/// (its fields in order), e.g. `"client": [null, null]`; the API takes
/// objects only, as the OpenAPI document says. Compares the body with the
/// value it was read into, written back: the path of the first place where
/// the body has an array and the value an object.
fn array_for_object<T: Serialize>(bytes: &[u8], value: &T) -> Option<String> {
    let sent: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let read = serde_json::to_value(value).ok()?;
    array_path(&sent, &read, "")
}

/// The path (under `at`) of the first place where `sent` has an array and
/// `read` (what it was deserialized into, serialized again) an object.
pub(crate) fn array_path(
    sent: &serde_json::Value,
    read: &serde_json::Value,
    at: &str,
) -> Option<String> {
    use serde_json::Value::{Array, Object};
    match (sent, read) {
        (Array(_), Object(_)) => Some(if at.is_empty() {
            "body".into()
        } else {
            at.into()
        }),
        (Object(s), Object(r)) => s.iter().find_map(|(k, sv)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            r.get(k).and_then(|rv| array_path(sv, rv, &path))
        }),
        (Array(s), Array(r)) => s
            .iter()
            .zip(r)
            .enumerate()
            .find_map(|(i, (sv, rv))| array_path(sv, rv, &format!("{at}[{i}]"))),
        _ => None,
    }
}

/// `application/json` or `application/<anything>+json`, parameters ignored.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some(sub) => sub == "json" || sub.ends_with("+json"),
        None => false,
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

const DATA_PREFIX: &str = "Failed to deserialize the JSON body into the target type: ";
const SYNTAX_PREFIX: &str = "Failed to parse the request body as JSON: ";

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            let text = text.strip_prefix(DATA_PREFIX).unwrap_or(&text);
            let (field, message) = split_serde_message(text);
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("invalid request body: {text}"),
            )
            .with_detail(field, message)
        }
        JsonRejection::JsonSyntaxError(e) => {
            let text = e.body_text();
            let text = text.strip_prefix(SYNTAX_PREFIX).unwrap_or(&text);
            // serde_json reports some type errors (a number where an enum
            // is expected) as syntax errors; they carry a path as well.
            let (field, message) = split_serde_message(text);
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("malformed JSON: {text}"),
            )
            .with_detail(field, message)
        }
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            payload_too_large()
        }
        other => {
            if other.status() == StatusCode::PAYLOAD_TOO_LARGE {
                return payload_too_large();
            }
            tracing::debug!(rejection = %other.body_text(), "unreadable request body");
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read",
            )
        }
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "expected 'Content-Type: application/json'",
    )
    .with_detail("Content-Type", "must be application/json")
}

/// Whether reading the body failed because it did not arrive in time (the
/// local server's body timeout, `tower_http::timeout::RequestBodyTimeoutLayer`).
fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// 408: the body did not arrive in time.
pub(crate) fn request_timeout() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request body did not arrive in time (does Content-Length match the body sent?)",
    )
}

/// 413: the body is (or is announced to be) over the limit.
pub(crate) fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body exceeds {} KiB", MAX_BODY_BYTES / 1024),
    )
}

/// Splits a deserialization message `"<path>: <problem>"` (the path is absent
/// for top-level problems) into the field it is about and the problem.
/// For `missing field `x`` the path names the enclosing object, so the
/// field name is appended; for `unknown field `x`` the path already ends
/// with it (or is absent at the top level).
fn split_serde_message(text: &str) -> (String, String) {
    let (path, problem) = match text.split_once(": ") {
        // A path never contains whitespace; a problem text usually does.
        Some((path, problem)) if !path.is_empty() && !path.contains(char::is_whitespace) => {
            (path.to_string(), problem.to_string())
        }
        _ => (String::new(), text.to_string()),
    };
    let named = |prefix: &str| {
        problem
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_string())
    };
    let field = if let Some(name) = named("missing field `") {
        if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        }
    } else if let (true, Some(name)) = (path.is_empty(), named("unknown field `")) {
        name
    } else if path.is_empty() {
        "body".to_string()
    } else {
        path
    };
    (field, problem)
}

/// Path parameters; a rejection becomes a 400.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    if rejection.status().is_server_error() {
        tracing::error!(rejection = %rejection.body_text(), "path extraction failed");
        return ApiError::internal();
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        rejection.body_text(),
    )
    .with_detail("path", rejection.body_text())
}

/// Query-string parameters; a rejection becomes a 400.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let text = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text)
        .to_string();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("invalid query string: {text}"),
    )
    .with_detail("query", text)
}

/// A required, non-empty query parameter: 400 naming it when absent.
pub fn required_param(value: Option<String>, name: &str) -> Result<String, ApiError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::bad_request(
            name,
            format!("the query parameter '{name}' is required"),
        )),
    }
}

/// The optional `If-Match` header of item writes, read as RFC 9110 §13.1.1
/// says, with the item's version as its entity tag (`ETag: "3"`).
///
/// - `*` matches any current version (the item must exist);
/// - `"3"` (and, for older clients, a bare `3`) matches version 3;
/// - a weak tag `W/"3"` never matches (If-Match uses the strong comparison);
/// - a list (`"3", "4"`, or several headers) matches if any member does.
///
/// A member that is none of these → 400 naming `If-Match`. A header that
/// cannot match the current version → 409 (API.md's failed precondition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// No header: no precondition.
    Absent,
    /// `*`: any current version.
    Any,
    /// The strong tags listed (empty when only weak tags were sent).
    Versions(Vec<u64>),
}

impl IfMatch {
    /// The version to require of the write, given the item's current
    /// version (read only when the list has several members): `None` when
    /// any version will do. A header that cannot match answers 409 here.
    pub fn expected(&self, current: impl FnOnce() -> Option<u64>) -> Result<Option<u64>, ApiError> {
        match self {
            IfMatch::Absent | IfMatch::Any => Ok(None),
            IfMatch::Versions(versions) => match versions.as_slice() {
                [] => Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "If-Match: a weak entity tag (W/\"…\") never matches; send the version as a strong tag, e.g. If-Match: \"3\"",
                )),
                [one] => Ok(Some(*one)),
                many => {
                    let now = current();
                    Ok(Some(
                        many.iter()
                            .copied()
                            .find(|v| Some(*v) == now)
                            .unwrap_or(many[0]),
                    ))
                }
            },
        }
    }

    /// Several strong tags were listed (the current version is needed to
    /// pick the one that matches).
    pub fn is_list(&self) -> bool {
        matches!(self, IfMatch::Versions(v) if v.len() > 1)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let values = parts.headers.get_all(IF_MATCH);
        if values.iter().next().is_none() {
            return Ok(IfMatch::Absent);
        }
        let invalid = || {
            ApiError::bad_request(
                "If-Match",
                "expected `*` or the item version as an entity tag, e.g. If-Match: \"3\"",
            )
        };
        let mut members = Vec::new();
        for value in values {
            let text = value.to_str().map_err(|_| invalid())?;
            for member in text.split(',') {
                members.push(member.trim().to_string());
            }
        }
        if members.iter().any(|m| m == "*") {
            return if members.len() == 1 {
                Ok(IfMatch::Any)
            } else {
                Err(invalid())
            };
        }
        let mut versions = Vec::new();
        for member in &members {
            match parse_tag(member).ok_or_else(invalid)? {
                Tag::Strong(v) => versions.push(v),
                Tag::Weak => {}
            }
        }
        Ok(IfMatch::Versions(versions))
    }
}

/// One entity tag of an If-Match list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    /// `"3"` or `3`.
    Strong(u64),
    /// `W/"3"`: well-formed, never matches.
    Weak,
}

/// Parses `"3"`, `3` or `W/"3"`.
fn parse_tag(text: &str) -> Option<Tag> {
    let text = text.trim();
    if let Some(weak) = text.strip_prefix("W/") {
        let inner = weak.strip_prefix('"')?.strip_suffix('"')?;
        return parse_number(inner).map(|_| Tag::Weak);
    }
    let inner = match text.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => text,
    };
    parse_number(inner).map(Tag::Strong)
}

fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        let ct = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, v.parse().unwrap());
            has_json_content_type(&h)
        };
        assert!(ct("application/json"));
        assert!(ct("Application/JSON; charset=utf-8"));
        assert!(ct("application/merge-patch+json"));
        assert!(!ct("text/plain"));
        assert!(!ct("application/jsonx"));
        assert!(!ct("json"));
        assert!(!has_json_content_type(&HeaderMap::new()));
    }

    #[test]
    fn entity_tags() {
        assert_eq!(parse_tag("3"), Some(Tag::Strong(3)));
        assert_eq!(parse_tag(" \"3\" "), Some(Tag::Strong(3)));
        assert_eq!(parse_tag("W/\"3\""), Some(Tag::Weak));
        for bad in [
            "",
            "\"\"",
            "*",
            "abc",
            "-1",
            "+1",
            "\"3",
            "3\"",
            "1.0",
            "W/",
            "W/3",
            "99999999999999999999",
        ] {
            assert_eq!(parse_tag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn lists_match_when_a_member_does() {
        let list = IfMatch::Versions(vec![2, 5]);
        assert_eq!(list.expected(|| Some(5)).unwrap(), Some(5));
        assert_eq!(list.expected(|| Some(7)).unwrap(), Some(2));
        assert_eq!(IfMatch::Any.expected(|| None).unwrap(), None);
        assert_eq!(
            IfMatch::Versions(vec![])
                .expected(|| Some(1))
                .unwrap_err()
                .status(),
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn serde_messages_name_fields() {
        assert_eq!(
            split_serde_message(
                "amount: invalid type: string \"x\", expected f64 at line 1 column 10"
            ),
            (
                "amount".to_string(),
                "invalid type: string \"x\", expected f64 at line 1 column 10".to_string()
            )
        );
        assert_eq!(
            split_serde_message("missing field `title` at line 1 column 2").0,
            "title"
        );
        assert_eq!(
            split_serde_message("client: missing field `name` at line 1 column 2").0,
            "client.name"
        );
        assert_eq!(
            split_serde_message(
                "unknown field `nope`, expected one of `a`, `b` at line 1 column 8"
            )
            .0,
            "nope"
        );
        assert_eq!(
            split_serde_message("client.nope: unknown field `nope`, expected `name`").0,
            "client.nope"
        );
        assert_eq!(
            split_serde_message("stages[0].semantic: unknown variant `x`, expected `process`").0,
            "stages[0].semantic"
        );
        assert_eq!(
            split_serde_message("invalid type: integer `1`, expected struct X").0,
            "body"
        );
    }
}
