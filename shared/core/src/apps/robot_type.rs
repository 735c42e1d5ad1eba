//! Robot types registered by applications (`/v1/robot-types`): a code, a
//! name, the handler URL the engine calls, the schema of the settings and
//! of the return values, and how long a run waits for the answer.
//!
//! Stored as `(tenant, robot_type, <code>)` listed under `all`. At most
//! [`MAX_ROBOT_TYPES`] per tenant. Deleting a type is allowed while robots
//! use it: their runs fail with "robot type deleted" until the code is
//! registered again (saving a robot of an unregistered type is a 422).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema::{ValueSchema, is_name};
use crate::engine::{Engine, Page, PageRequest};
use crate::error::{EngineError, FieldError, Result};
use crate::ports::{Cond, DocKey, Kind, Write};
use crate::store::{decode, doc, put};

/// Most robot types of one tenant.
pub const MAX_ROBOT_TYPES: usize = 50;
/// Longest name (characters).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description (characters).
pub const MAX_DESCRIPTION_CHARS: usize = 2_000;
/// Longest handler URL (bytes).
pub const MAX_URL_BYTES: usize = 2_048;
/// Shortest and longest wait for the application's answer (seconds).
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 60..=7 * 24 * 3600;
/// The wait when the type names none (seconds).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3_600;
/// The parent robot types are listed under.
const LISTED: &str = "all";

/// A registered robot type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RobotTypeDef {
    /// `[a-z0-9_]{1,50}`; robots of this type have `type` = `app.<code>`.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Where runs are POSTed (http or https; the destination guard applies).
    pub handler_url: String,
    /// JSON Schema (subset) of the robots' settings.
    pub settings_schema: Value,
    /// JSON Schema (subset) of the answer's `return_values`: its properties
    /// are the robot's outputs.
    pub return_schema: Value,
    /// How long a run waits for the answer before it fails.
    pub timeout_seconds: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/robot-types`, `PUT /v1/robot-types/{code}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotTypeBody {
    /// Required on POST; on PUT, if given, the code of the path.
    #[serde(default)]
    pub code: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub handler_url: String,
    #[serde(default)]
    pub settings_schema: Option<Value>,
    #[serde(default)]
    pub return_schema: Option<Value>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

impl RobotTypeDef {
    /// The robot type name of its robots: `app.<code>`.
    pub fn type_name(&self) -> String {
        format!("{}{}", super::APP_PREFIX, self.code)
    }

    /// The settings' schema (empty if the stored one does not read).
    pub fn settings(&self) -> ValueSchema {
        ValueSchema::parse("settings_schema", &self.settings_schema).unwrap_or_default()
    }

    /// The return values' schema.
    pub fn returns(&self) -> ValueSchema {
        ValueSchema::parse("return_schema", &self.return_schema).unwrap_or_default()
    }

    pub(crate) fn key(tenant: &str, code: &str) -> DocKey {
        DocKey::new(tenant, Kind::RobotType, code)
    }
}

/// Is `code` a robot type code (`[a-z0-9_]{1,50}`)?
pub fn is_code(code: &str) -> bool {
    is_name(code)
}

fn empty_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// Check a body; the type it describes (times set by the caller).
fn from_body(code: &str, body: RobotTypeBody, now: DateTime<Utc>) -> Result<RobotTypeDef> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut err = |f: &str, m: String| {
        errors.push(FieldError {
            field: f.into(),
            message: m,
        })
    };
    if !is_code(code) {
        err(
            "code",
            format!("'{code}' is not a code ([a-z0-9_], 1–50 characters)"),
        );
    }
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        err("name", format!("1 to {MAX_NAME_CHARS} characters"));
    }
    let description = body.description.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        err(
            "description",
            format!("at most {MAX_DESCRIPTION_CHARS} characters"),
        );
    }
    if body.handler_url.len() > MAX_URL_BYTES {
        err("handler_url", format!("at most {MAX_URL_BYTES} bytes"));
    } else if let Err(why) = crate::webhook::guard::check_url(&body.handler_url) {
        err("handler_url", why.0);
    }
    let timeout_seconds = body.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if !TIMEOUT_RANGE.contains(&timeout_seconds) {
        err(
            "timeout_seconds",
            format!("{timeout_seconds} s; between 60 s and 7 days (604800 s)"),
        );
    }
    let settings_schema = body.settings_schema.unwrap_or_else(empty_schema);
    let return_schema = body.return_schema.unwrap_or_else(empty_schema);
    for (field, s) in [
        ("settings_schema", &settings_schema),
        ("return_schema", &return_schema),
    ] {
        if let Err(e) = ValueSchema::parse(field, s) {
            errors.extend(e);
        }
    }
    crate::engine::unprocessable(errors)?;
    Ok(RobotTypeDef {
        code: code.to_string(),
        name,
        description,
        handler_url: body.handler_url,
        settings_schema,
        return_schema,
        timeout_seconds,
        created_at: now,
        updated_at: now,
    })
}

impl Engine {
    /// Register a robot type. A taken code → 409; over [`MAX_ROBOT_TYPES`] → 422.
    pub async fn create_robot_type(
        &self,
        tenant: &str,
        body: RobotTypeBody,
    ) -> Result<RobotTypeDef> {
        let code = body
            .code
            .clone()
            .ok_or_else(|| EngineError::invalid("code", "is required"))?;
        let def = from_body(&code, body, self.now())?;
        let count = self
            .ports
            .store
            .list_page(tenant, Kind::RobotType, LISTED, None, MAX_ROBOT_TYPES + 1)
            .await?
            .len();
        if count >= MAX_ROBOT_TYPES {
            return Err(EngineError::invalid(
                "code",
                format!("the tenant has {count} robot types; at most {MAX_ROBOT_TYPES}"),
            ));
        }
        let w = put(
            doc(tenant, Kind::RobotType, &code, 1, Some(LISTED), &def),
            Cond::Absent,
        );
        self.commit(vec![w], || {
            format!("robot type '{code}' exists already; PUT /v1/robot-types/{code} replaces it")
        })
        .await?;
        Ok(def)
    }

    /// A registered type (404 if none).
    pub async fn get_robot_type(&self, tenant: &str, code: &str) -> Result<RobotTypeDef> {
        Ok(self.robot_type_with_version(tenant, code).await?.0)
    }

    async fn robot_type_with_version(
        &self,
        tenant: &str,
        code: &str,
    ) -> Result<(RobotTypeDef, u64)> {
        if !is_code(code) {
            return Err(EngineError::not_found("robot type", code));
        }
        self.load_kind::<RobotTypeDef>(tenant, Kind::RobotType, code)
            .await?
            .ok_or_else(|| EngineError::not_found("robot type", code))
    }

    /// A registered type, if there is one.
    pub(crate) async fn find_robot_type(
        &self,
        tenant: &str,
        code: &str,
    ) -> Result<Option<RobotTypeDef>> {
        if !is_code(code) {
            return Ok(None);
        }
        Ok(self
            .load_kind::<RobotTypeDef>(tenant, Kind::RobotType, code)
            .await?
            .map(|(d, _)| d))
    }

    /// Replace a type (robots keep their settings; saving them again checks
    /// them against the new schema). Unknown code → 404.
    pub async fn update_robot_type(
        &self,
        tenant: &str,
        code: &str,
        body: RobotTypeBody,
    ) -> Result<RobotTypeDef> {
        if let Some(c) = &body.code
            && c != code
        {
            return Err(EngineError::invalid(
                "code",
                format!("'{c}' is not the code of the path ('{code}'); a code cannot change"),
            ));
        }
        let (old, v) = self.robot_type_with_version(tenant, code).await?;
        let mut def = from_body(code, body, self.now())?;
        def.created_at = old.created_at;
        let w = put(
            doc(tenant, Kind::RobotType, code, v + 1, Some(LISTED), &def),
            Cond::Version(v),
        );
        self.commit(vec![w], || {
            format!("robot type '{code}' was changed at the same time; retry")
        })
        .await?;
        Ok(def)
    }

    /// Delete a type (unknown code → 404). Robots of the type stay; their
    /// runs fail ("robot type deleted") until the code is registered again.
    pub async fn delete_robot_type(&self, tenant: &str, code: &str) -> Result<()> {
        let (_, v) = self.robot_type_with_version(tenant, code).await?;
        self.commit(
            vec![Write::Delete {
                key: RobotTypeDef::key(tenant, code),
                parent: Some(LISTED.into()),
                cond: Cond::Version(v),
            }],
            || format!("robot type '{code}' was changed at the same time; retry"),
        )
        .await
    }

    /// One page of the tenant's types, by code.
    pub async fn robot_types_page(
        &self,
        tenant: &str,
        req: &PageRequest,
    ) -> Result<Page<RobotTypeDef>> {
        let page = self
            .page_docs(tenant, Kind::RobotType, &[LISTED.to_string()], req, |_| {
                Ok(true)
            })
            .await?;
        let items = page.items.iter().map(decode).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Every type of the tenant (at most [`MAX_ROBOT_TYPES`]), for the catalogue.
    pub async fn all_robot_types(&self, tenant: &str) -> Result<Vec<RobotTypeDef>> {
        let docs = self
            .ports
            .store
            .list_page(tenant, Kind::RobotType, LISTED, None, MAX_ROBOT_TYPES * 2)
            .await?;
        docs.iter().map(decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> RobotTypeBody {
        serde_json::from_value(v).unwrap()
    }

    fn fields(v: Value) -> Vec<String> {
        let code = v["code"].as_str().unwrap_or("ok").to_string();
        match from_body(&code, body(v), Utc::now()) {
            Ok(_) => Vec::new(),
            Err(EngineError::Unprocessable { details }) => {
                details.into_iter().map(|d| d.field).collect()
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_body_is_checked_field_by_field() {
        let ok = json!({"code": "crm_sync", "name": "Sync", "handler_url": "https://app.example.com/robot"});
        assert!(fields(ok.clone()).is_empty());
        let with = |k: &str, v: Value| {
            let mut b = ok.clone();
            b[k] = v;
            fields(b)
        };
        assert_eq!(with("code", json!("Bad-Code")), ["code"]);
        assert_eq!(with("name", json!(" ")), ["name"]);
        assert_eq!(with("name", json!("x".repeat(201))), ["name"]);
        assert_eq!(
            with("handler_url", json!("http://169.254.169.254/")),
            ["handler_url"]
        );
        assert_eq!(
            with("handler_url", json!("ftp://example.com/")),
            ["handler_url"]
        );
        assert_eq!(with("timeout_seconds", json!(59)), ["timeout_seconds"]);
        assert_eq!(with("timeout_seconds", json!(604_801)), ["timeout_seconds"]);
        assert!(with("timeout_seconds", json!(604_800)).is_empty());
        assert_eq!(
            with(
                "settings_schema",
                json!({"properties": {"a": {"type": "array"}}})
            ),
            ["settings_schema.properties.a.type"]
        );
        assert_eq!(
            with("return_schema", json!({"anyOf": []})),
            ["return_schema.anyOf"]
        );
    }
}
