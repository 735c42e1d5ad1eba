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
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(e.into()))?;
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

fn payload_too_large() -> ApiError {
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

/// The optional `If-Match: <version>` header of item writes.
///
/// Accepted forms: `3`, `"3"`, `W/"3"` (surrounding whitespace ignored).
/// Anything else — including `*`, lists and several headers — → 400 naming
/// `If-Match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(IF_MATCH).iter();
        let Some(value) = values.next() else {
            return Ok(IfMatch(None));
        };
        let invalid = || {
            ApiError::bad_request(
                "If-Match",
                "expected the item version as a number, e.g. If-Match: \"3\"",
            )
        };
        if values.next().is_some() {
            return Err(invalid());
        }
        let text = value.to_str().map_err(|_| invalid())?;
        parse_version(text)
            .map(|v| IfMatch(Some(v)))
            .ok_or_else(invalid)
    }
}

/// Parses `3`, `"3"` or `W/"3"`.
fn parse_version(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    let text = match text.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => text,
    };
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
    fn versions() {
        assert_eq!(parse_version("3"), Some(3));
        assert_eq!(parse_version(" \"3\" "), Some(3));
        assert_eq!(parse_version("W/\"3\""), Some(3));
        assert_eq!(parse_version("W/3"), Some(3));
        for bad in [
            "",
            "\"\"",
            "*",
            "abc",
            "-1",
            "+1",
            "3,4",
            "\"3",
            "3\"",
            "1.0",
            "W/",
            "99999999999999999999",
        ] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
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
