//! Request bodies of the engine's operations (the JSON shapes of API.md).
//!
//! Wrong JSON types are rejected by deserialization (HTTP 400); everything that
//! deserializes is then validated by the engine (unknown references and rule
//! violations → [`crate::error::EngineError::Unprocessable`], HTTP 422).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::Condition;
use crate::delay::Delay;
use crate::error::EngineError;
use crate::model::{Client, ClientRef, FieldDef, Stage, TaskStatus};
use crate::workhours::WorkingHours;

/// `PUT /v1/departments/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentBody {
    pub name: String,
    #[serde(default)]
    pub head_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// `PUT /v1/users/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub department_id: Option<String>,
    /// IANA time zone; default `UTC`.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub working_hours: Option<WorkingHours>,
    #[serde(default)]
    pub days_off: Vec<NaiveDate>,
}

/// One department of `PUT /v1/directory`: the body of
/// `PUT /v1/departments/{id}` with its `id`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryDepartment {
    pub id: String,
    pub name: String,
    /// A user of the store or of the same request.
    #[serde(default)]
    pub head_id: Option<String>,
    /// A department of the store or of the same request (no cycles).
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// One user of `PUT /v1/directory`: the body of `PUT /v1/users/{id}` with
/// its `id`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryUser {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// A department of the store or of the same request.
    #[serde(default)]
    pub department_id: Option<String>,
    /// IANA time zone; default `UTC`.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub working_hours: Option<WorkingHours>,
    #[serde(default)]
    pub days_off: Vec<NaiveDate>,
}

impl DirectoryUser {
    /// The `PUT /v1/users/{id}` body of this user.
    pub fn body(&self) -> UserBody {
        UserBody {
            name: self.name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            department_id: self.department_id.clone(),
            time_zone: self.time_zone.clone(),
            working_hours: self.working_hours.clone(),
            days_off: self.days_off.clone(),
        }
    }
}

/// `PUT /v1/directory`: departments and users together, in any order,
/// validated as a whole and written all or nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryBody {
    #[serde(default)]
    pub departments: Vec<DirectoryDepartment>,
    #[serde(default)]
    pub users: Vec<DirectoryUser>,
}

/// `PUT /v1/pipelines/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineBody {
    /// Optional; when given it must equal the id in the path (so a GET
    /// result can be PUT back).
    #[serde(default)]
    pub id: Option<String>,
    pub entity_type: String,
    pub name: String,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub fields: Vec<FieldDef>,
    /// Track opens and clicks of the HTML emails robots send to clients
    /// (default true).
    #[serde(default)]
    pub email_tracking: Option<bool>,
}

/// `POST /v1/pipelines/{id}/robots`, `PUT …/robots/{robot_id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotBody {
    pub stage_id: String,
    #[serde(rename = "type")]
    pub robot_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub delay: Option<Delay>,
    #[serde(default)]
    pub respect_working_hours: bool,
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub after_previous: bool,
    /// With `after_previous`: `finish` (default) or `task_completed`.
    #[serde(default)]
    pub wait_for: crate::robots::wait_for::WaitFor,
    /// With `wait_for: task_completed`: wait at most this long.
    #[serde(default)]
    pub wait_timeout: Option<crate::delay::Duration>,
    /// When `wait_timeout` passes: `run` (default) or `skip`.
    #[serde(default)]
    pub on_timeout: crate::robots::wait_for::OnTimeout,
    #[serde(default)]
    pub settings: Option<Value>,
}

/// `POST /v1/pipelines/{id}/triggers`, `PUT …/triggers/{trigger_id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    pub stage_id: String,
    #[serde(rename = "type")]
    pub trigger_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub condition: Option<Condition>,
    #[serde(default)]
    pub execute_as: Option<String>,
    #[serde(default)]
    pub allow_backwards: bool,
    #[serde(default)]
    pub settings: Option<Value>,
}

/// `POST …/robots/{id}/copy`, `POST …/triggers/{id}/copy`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    pub stage_id: String,
}

/// `POST /v1/items`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// Must match the pipeline's entity type when given.
    #[serde(default)]
    pub entity_type: Option<String>,
    pub pipeline_id: String,
    /// Default: the pipeline's first stage.
    #[serde(default)]
    pub stage_id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    pub responsible_id: String,
    #[serde(default)]
    pub client: Option<Client>,
    #[serde(default)]
    pub is_repeat: bool,
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
    /// The integrator's id (≤ 100 characters), unique per entity type.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// `PATCH /v1/items/{id}`: only the keys present change. In `fields`, `null`
/// removes a field.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    #[serde(default)]
    pub stage_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub amount: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub client: Option<Client>,
    #[serde(default)]
    pub is_repeat: Option<bool>,
    #[serde(default)]
    pub fields: Option<BTreeMap<String, Value>>,
    /// A new external id (`""` removes it).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Author of the change (recorded in the timeline); default: the API.
    #[serde(default)]
    pub author_id: Option<String>,
}

/// `POST /v1/events`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub client: Option<ClientRef>,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// `PATCH /v1/tasks/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    pub status: TaskStatus,
    /// Who changed it (recorded in the timeline).
    #[serde(default)]
    pub author_id: Option<String>,
}

/// Longest client-chosen id (`PUT /v1/pipelines/{id}`, users, departments).
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted email address (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest accepted phone number.
pub const MAX_PHONE_LEN: usize = 64;

/// A client-chosen id: 1 to [`MAX_ID_LEN`] characters from `A-Z a-z 0-9`
/// and `-` `_` `.` `:`. Anything else → 400 naming `field`.
pub fn check_id(field: &str, id: &str) -> Result<(), EngineError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(EngineError::bad(
            field,
            format!("must be 1 to {MAX_ID_LEN} characters long"),
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(EngineError::bad(
            field,
            format!(
                "invalid character {c:?}: ids may only contain letters, digits, '-', '_', '.' and ':'"
            ),
        ));
    }
    Ok(())
}

/// An email address: no whitespace or control characters, exactly one `@`
/// with text on both sides, at most [`MAX_EMAIL_LEN`] characters. An empty
/// string means "none" and is accepted. Otherwise → 422 naming `field`.
pub fn check_email(field: &str, email: &str) -> Result<(), EngineError> {
    if email.is_empty() {
        return Ok(());
    }
    let problem = if email.len() > MAX_EMAIL_LEN {
        Some(format!("must be at most {MAX_EMAIL_LEN} characters long"))
    } else if email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Some("must not contain spaces, line breaks or control characters".to_string())
    } else {
        match email.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                None
            }
            _ => {
                Some("must be an address with exactly one '@', e.g. buyer@example.com".to_string())
            }
        }
    };
    match problem {
        Some(p) => Err(EngineError::invalid(field, p)),
        None => Ok(()),
    }
}

/// A phone number: digits, spaces and `+ - ( )`, with at least one digit,
/// at most [`MAX_PHONE_LEN`] characters. An empty string means "none" and is
/// accepted. Otherwise → 422 naming `field`.
pub fn check_phone(field: &str, phone: &str) -> Result<(), EngineError> {
    if phone.is_empty() {
        return Ok(());
    }
    if phone.len() > MAX_PHONE_LEN {
        return Err(EngineError::invalid(
            field,
            format!("must be at most {MAX_PHONE_LEN} characters long"),
        ));
    }
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')');
    if !phone.chars().all(allowed) || !phone.chars().any(|c| c.is_ascii_digit()) {
        return Err(EngineError::invalid(
            field,
            "may only contain digits, spaces and '+', '-', '(', ')'",
        ));
    }
    Ok(())
}

/// Both contacts of an optional client object, fields named under `prefix`.
fn check_contacts(
    prefix: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<(), EngineError> {
    if let Some(email) = email {
        check_email(&format!("{prefix}email"), email)?;
    }
    if let Some(phone) = phone {
        check_phone(&format!("{prefix}phone"), phone)?;
    }
    Ok(())
}

impl DirectoryBody {
    /// Checks every entry's id ([`check_id`]) and every user's `email` and
    /// `phone`, naming the entry (`users[2].email`).
    pub fn check(&self) -> Result<(), EngineError> {
        for (i, d) in self.departments.iter().enumerate() {
            check_id(&format!("departments[{i}].id"), &d.id)?;
        }
        for (i, u) in self.users.iter().enumerate() {
            check_id(&format!("users[{i}].id"), &u.id)?;
            check_contacts(
                &format!("users[{i}]."),
                u.email.as_deref(),
                u.phone.as_deref(),
            )?;
        }
        Ok(())
    }
}

impl UserBody {
    /// Checks `email` and `phone` ([`check_email`], [`check_phone`]).
    pub fn check_contacts(&self) -> Result<(), EngineError> {
        check_contacts("", self.email.as_deref(), self.phone.as_deref())
    }
}

/// `client.email`, `client.phone` and `client.messengers` of an item's
/// optional client.
fn check_client(c: Option<&Client>) -> Result<(), EngineError> {
    check_contacts(
        "client.",
        c.and_then(|c| c.email.as_deref()),
        c.and_then(|c| c.phone.as_deref()),
    )?;
    if let Some((field, message)) =
        c.and_then(|c| crate::robots::message_client::check_messengers("client.", &c.messengers))
    {
        return Err(EngineError::invalid(field, message));
    }
    Ok(())
}

impl NewItem {
    /// Checks `client.email` and `client.phone`.
    pub fn check_contacts(&self) -> Result<(), EngineError> {
        check_client(self.client.as_ref())
    }
}

impl ItemPatch {
    /// Checks `client.email` and `client.phone`.
    pub fn check_contacts(&self) -> Result<(), EngineError> {
        check_client(self.client.as_ref())
    }
}

impl EventBody {
    /// Checks `client.email` and `client.phone`.
    pub fn check_contacts(&self) -> Result<(), EngineError> {
        let c = self.client.as_ref();
        check_contacts(
            "client.",
            c.and_then(|c| c.email.as_deref()),
            c.and_then(|c| c.phone.as_deref()),
        )
    }
}

#[cfg(test)]
mod checks {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["deals", "u-anna", "d_sales.1", "ns:id", &"x".repeat(128)] {
            assert!(check_id("id", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ж", "a\nb", "a%20", &"x".repeat(129)] {
            assert!(
                matches!(check_id("id", bad), Err(EngineError::BadRequest { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn emails_and_phones() {
        for ok in ["", "buyer@acme.test", "A.B+c@x.co"] {
            assert!(check_email("email", ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "a@b@c",
            "@b",
            "a@",
            "a b@c",
            "a@b\r\nX-Forged: 1",
            "a\u{7}@b",
        ] {
            assert!(check_email("email", bad).is_err(), "{bad:?}");
        }
        for ok in ["", "+7 (495) 123-45-67", "84951234567", "8-495-123-45-67 "] {
            assert!(check_phone("phone", ok).is_ok(), "{ok}");
        }
        for bad in ["+7 495\n", "call me", "+-()", "123;456", "12.34"] {
            assert!(check_phone("phone", bad).is_err(), "{bad:?}");
        }
    }
}
