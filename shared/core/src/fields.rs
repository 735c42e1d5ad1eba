//! Custom field values: checked against the pipeline's declarations.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde_json::Value;

use crate::error::FieldError;
use crate::model::{FieldDef, FieldType, Pipeline};

fn check_field_value(def: &FieldDef, v: &Value) -> std::result::Result<(), String> {
    use chrono::NaiveDate;
    if v.is_null() {
        return Ok(());
    }
    let ok = match def.field_type {
        FieldType::String | FieldType::User | FieldType::File => v.is_string(),
        FieldType::Number => v.is_number(),
        FieldType::Bool => v.is_boolean(),
        FieldType::Date => v
            .as_str()
            .is_some_and(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
        FieldType::Datetime => v
            .as_str()
            .is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
        FieldType::List => {
            let allowed = |x: &Value| {
                x.as_str()
                    .is_some_and(|s| def.options.is_empty() || def.options.iter().any(|o| o == s))
            };
            if def.multiple {
                v.as_array().is_some_and(|a| a.iter().all(allowed))
            } else {
                allowed(v)
            }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected a {} value{}",
            serde_json::to_value(def.field_type)
                .ok()
                .and_then(|t| t.as_str().map(str::to_string))
                .unwrap_or_default(),
            if def.options.is_empty() {
                String::new()
            } else {
                format!(" (one of {})", def.options.join(", "))
            }
        ))
    }
}

/// Validate custom field values against the pipeline's declarations.
pub(crate) fn check_fields(
    pipeline: &Pipeline,
    fields: &BTreeMap<String, Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (k, v) in fields {
        match pipeline.field(k) {
            None => errors.push(FieldError {
                field: format!("fields.{k}"),
                message: format!("unknown field of pipeline '{}'", pipeline.id),
            }),
            Some(def) => {
                if let Err(m) = check_field_value(def, v) {
                    errors.push(FieldError {
                        field: format!("fields.{k}"),
                        message: m,
                    });
                }
            }
        }
    }
    errors
}
