//! A web form's definition and its validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::model::{FieldType, Pipeline};

/// Most fields a form may have.
pub const MAX_FIELDS: usize = 30;
/// Longest form name.
pub const MAX_NAME_LEN: usize = 200;
/// Longest field name (`[a-z0-9_]`).
pub const MAX_FIELD_NAME_LEN: usize = 40;
/// Longest field label.
pub const MAX_LABEL_LEN: usize = 200;
/// Longest success message.
pub const MAX_SUCCESS_LEN: usize = 1000;
/// What a form answers after a submission when it sets no message.
pub const DEFAULT_SUCCESS: &str = "Thank you! We will get back to you soon.";

/// The kind of input a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text (at most 1,000 characters).
    Text,
    /// An email address.
    Email,
    /// A phone number.
    Phone,
    /// A number.
    Number,
    /// Several lines of text (at most 10,000 characters).
    Textarea,
}

impl FieldKind {
    /// Longest value of the kind.
    pub fn max_len(self) -> usize {
        match self {
            FieldKind::Text => 1000,
            FieldKind::Email => crate::api::MAX_EMAIL_LEN,
            FieldKind::Phone => crate::api::MAX_PHONE_LEN,
            FieldKind::Number => 40,
            FieldKind::Textarea => 10_000,
        }
    }

    /// The HTML `<input type>` of the kind (`textarea` is its own element).
    pub fn html_type(self) -> &'static str {
        match self {
            FieldKind::Text | FieldKind::Textarea => "text",
            FieldKind::Email => "email",
            FieldKind::Phone => "tel",
            FieldKind::Number => "number",
        }
    }
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The submitted name: 1–40 of `a-z 0-9 _`, unique in the form.
    pub name: String,
    /// What the visitor reads (1–200 characters).
    pub label: String,
    /// `text`, `email`, `phone`, `number` or `textarea`.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// An empty value is refused (422 naming the field).
    #[serde(default)]
    pub required: bool,
    /// Where the value goes: `title`, `amount` (a `number` field),
    /// `client.name`, `client.email` (an `email` field), `client.phone` (a
    /// `phone` field) or `fields.<key>` (a `string`, `number` or `list`
    /// custom field of the pipeline). Unmapped values travel in the event's
    /// `data.values` only.
    #[serde(default)]
    pub maps_to: Option<String>,
}

/// `POST /v1/forms`, `PUT /v1/forms/{id}`
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormBody {
    /// What the operator and the visitor see as the form's title (1–200).
    pub name: String,
    /// 1 to 30 fields.
    pub fields: Vec<FormField>,
    /// The pipeline a new item lands in (and where the client's open item is looked for).
    pub pipeline_id: String,
    /// The stage a new item lands in (default: the pipeline's first).
    #[serde(default)]
    pub stage_id: Option<String>,
    /// Must match the pipeline's entity type when given.
    #[serde(default)]
    pub entity_type: Option<String>,
    /// The user a new item is given to.
    pub responsible_id: String,
    /// What the visitor reads after submitting (at most 1,000 characters).
    #[serde(default)]
    pub success_message: Option<String>,
}

/// A stored form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WebForm {
    /// Public, unguessable: `wf_` and 32 hex digits.
    pub id: String,
    pub name: String,
    pub fields: Vec<FormField>,
    pub pipeline_id: String,
    pub stage_id: String,
    pub entity_type: String,
    pub responsible_id: String,
    pub success_message: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebForm {
    /// The field that maps to `target`, if any.
    pub fn mapped(&self, target: &str) -> Option<&FormField> {
        self.fields
            .iter()
            .find(|f| f.maps_to.as_deref() == Some(target))
    }
}

fn err(errors: &mut Vec<FieldError>, field: impl Into<String>, message: impl Into<String>) {
    errors.push(FieldError {
        field: field.into(),
        message: message.into(),
    });
}

fn check_len(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) {
    let n = value.chars().count();
    if value.trim().is_empty() {
        err(errors, field, "must not be empty");
    } else if n > max {
        err(
            errors,
            field,
            format!("must be at most {max} characters long"),
        );
    }
}

/// Names a submission uses for itself: a form field may not take them.
const RESERVED: &[&str] = &[
    super::submission::HONEYPOT_FIELD,
    super::submission::VISITOR_FIELD,
];

impl FormBody {
    /// Every problem of the body against its pipeline (None: unknown
    /// pipeline, reported by the caller), naming the field (`fields[2].maps_to`).
    pub fn problems(&self, pipeline: Option<&Pipeline>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_len(&mut errors, "name", &self.name, MAX_NAME_LEN);
        if let Some(m) = &self.success_message
            && m.chars().count() > MAX_SUCCESS_LEN
        {
            err(
                &mut errors,
                "success_message",
                format!("must be at most {MAX_SUCCESS_LEN} characters long"),
            );
        }
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            err(
                &mut errors,
                "fields",
                format!("must hold 1 to {MAX_FIELDS} fields"),
            );
        }
        let mut names: Vec<&str> = Vec::new();
        let mut targets: Vec<&str> = Vec::new();
        for (i, f) in self.fields.iter().take(MAX_FIELDS).enumerate() {
            let at = format!("fields[{i}]");
            if f.name.is_empty()
                || f.name.len() > MAX_FIELD_NAME_LEN
                || !f
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                err(
                    &mut errors,
                    format!("{at}.name"),
                    format!("must be 1 to {MAX_FIELD_NAME_LEN} of a-z, 0-9 and _"),
                );
            } else if RESERVED.contains(&f.name.as_str()) {
                err(
                    &mut errors,
                    format!("{at}.name"),
                    format!("'{}' is reserved by the form itself", f.name),
                );
            } else if names.contains(&f.name.as_str()) {
                err(
                    &mut errors,
                    format!("{at}.name"),
                    format!("'{}' is used by another field", f.name),
                );
            }
            names.push(&f.name);
            check_len(&mut errors, &format!("{at}.label"), &f.label, MAX_LABEL_LEN);
            if let Some(target) = &f.maps_to {
                if targets.contains(&target.as_str()) {
                    err(
                        &mut errors,
                        format!("{at}.maps_to"),
                        format!("'{target}' is the target of another field"),
                    );
                }
                targets.push(target);
                if let Some(m) = target_problem(target, f.kind, pipeline) {
                    err(&mut errors, format!("{at}.maps_to"), m);
                }
            }
        }
        errors
    }
}

/// Why a field of `kind` cannot map to `target`.
fn target_problem(target: &str, kind: FieldKind, pipeline: Option<&Pipeline>) -> Option<String> {
    let need = |want: FieldKind| {
        (kind != want).then(|| format!("'{target}' takes a field of type {want:?}").to_lowercase())
    };
    match target {
        "title" | "client.name" => None,
        "amount" => need(FieldKind::Number),
        "client.email" => need(FieldKind::Email),
        "client.phone" => need(FieldKind::Phone),
        _ => {
            let Some(key) = target.strip_prefix("fields.") else {
                return Some(
                    "must be title, amount, client.name, client.email, client.phone or fields.<key>"
                        .into(),
                );
            };
            let pipeline = pipeline?;
            match pipeline.field(key).map(|d| d.field_type) {
                None => Some(format!("pipeline '{}' has no field '{key}'", pipeline.id)),
                Some(FieldType::Number) if kind != FieldKind::Number => Some(format!(
                    "'{key}' is a number field: map a number field to it"
                )),
                Some(FieldType::Number | FieldType::String | FieldType::List) => None,
                Some(t) => Some(
                    format!("'{key}' is a {t:?} field; forms fill string, number and list fields")
                        .to_lowercase(),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(fields: serde_json::Value) -> FormBody {
        serde_json::from_value(serde_json::json!({
            "name": "Contact us", "fields": fields, "pipeline_id": "sales",
            "responsible_id": "u-anna"
        }))
        .unwrap()
    }

    fn fields_of(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn names_targets_and_types_are_checked_per_field() {
        let b = body(serde_json::json!([
            {"name": "Email", "label": "E-mail", "type": "email"},
            {"name": "phone", "label": "Phone", "type": "text", "maps_to": "client.phone"},
            {"name": "website", "label": "Site", "type": "text"},
            {"name": "sum", "label": "Sum", "type": "number", "maps_to": "amount"},
            {"name": "sum", "label": "", "type": "number", "maps_to": "amount"},
            {"name": "x", "label": "X", "type": "text", "maps_to": "owner"},
        ]));
        let errors = b.problems(None);
        assert_eq!(
            fields_of(&errors),
            [
                "fields[0].name",
                "fields[1].maps_to",
                "fields[2].name",
                "fields[4].name",
                "fields[4].label",
                "fields[4].maps_to",
                "fields[5].maps_to"
            ]
        );
    }

    #[test]
    fn a_good_form_has_no_problems() {
        let b = body(serde_json::json!([
            {"name": "email", "label": "E-mail", "type": "email", "required": true, "maps_to": "client.email"},
            {"name": "name", "label": "Name", "type": "text", "maps_to": "client.name"},
        ]));
        assert!(b.problems(None).is_empty());
        assert_eq!(
            fields_of(&body(serde_json::json!([])).problems(None)),
            ["fields"]
        );
    }
}
