//! Custom field values: checked against the pipeline's declarations.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde_json::Value;

use crate::error::{EngineError, FieldError};
use crate::model::{FieldDef, FieldType, Item, Pipeline};

/// Largest value of one custom field, as JSON: 16 KiB. Larger → 422 on the
/// API; a robot that would write one fails with the reason.
pub const MAX_FIELD_VALUE_BYTES: usize = 16 * 1024;

/// Largest item, as stored JSON: 256 KiB (well under DynamoDB's 400 KB item
/// limit, leaving room for the store's own attributes). A write that would
/// make an item larger → 422 on the API; a robot's change fails the run.
pub const MAX_ITEM_BYTES: usize = 256 * 1024;

/// The size of a value as JSON.
fn json_len(v: &impl serde::Serialize) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

/// An item that would exceed [`MAX_ITEM_BYTES`]: why.
pub(crate) fn item_too_large(item: &Item) -> Option<String> {
    let len = json_len(item);
    (len > MAX_ITEM_BYTES)
        .then(|| format!("the item would be {len} bytes; at most {MAX_ITEM_BYTES} (256 KiB)"))
}

/// 422 (`item`) for an item larger than [`MAX_ITEM_BYTES`].
pub(crate) fn check_item_size(item: &Item) -> Result<(), EngineError> {
    match item_too_large(item) {
        Some(m) => Err(EngineError::invalid("item", m)),
        None => Ok(()),
    }
}

fn check_field_value(def: &FieldDef, v: &Value) -> std::result::Result<(), String> {
    use chrono::NaiveDate;
    if v.is_null() {
        return Ok(());
    }
    let len = json_len(v);
    if len > MAX_FIELD_VALUE_BYTES {
        return Err(format!(
            "the value is {len} bytes; at most {MAX_FIELD_VALUE_BYTES} (16 KiB)"
        ));
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

/// Do two values of a field mean the same (a change is a change of value, not
/// of spelling)? Numbers compare as numbers (`5` = `5.0` = `5e0`), datetimes
/// as instants (`…T10:00:00Z` = `…T13:00:00+03:00`); other values as JSON.
/// `def` is the field's declaration (`None`: compared as JSON).
pub fn same_value(def: Option<&FieldDef>, a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (def.map(|d| d.field_type), a, b) {
        (Some(FieldType::Number), Value::Number(x), Value::Number(y)) => {
            x.as_f64().is_some_and(|x| y.as_f64() == Some(x))
        }
        (Some(FieldType::Datetime), Value::String(x), Value::String(y)) => {
            match (
                DateTime::parse_from_rfc3339(x),
                DateTime::parse_from_rfc3339(y),
            ) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            }
        }
        _ => false,
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

/// The `(field path, user id)` of every `user` field value in `fields`: they
/// must name existing users of the tenant, like every other user reference.
pub(crate) fn user_refs(
    pipeline: &Pipeline,
    fields: &BTreeMap<String, Value>,
) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|(k, _)| {
            pipeline
                .field(k)
                .is_some_and(|d| d.field_type == FieldType::User)
        })
        .filter_map(|(k, v)| Some((format!("fields.{k}"), v.as_str()?.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn def(t: FieldType) -> FieldDef {
        FieldDef {
            key: "k".into(),
            field_type: t,
            name: None,
            options: Vec::new(),
            multiple: false,
        }
    }

    #[test]
    fn values_are_compared_by_field_type() {
        let n = def(FieldType::Number);
        assert!(same_value(Some(&n), &json!(5), &json!(5.0)));
        assert!(same_value(Some(&n), &json!(5), &json!(5e0)));
        assert!(!same_value(Some(&n), &json!(5), &json!(5.5)));
        let t = def(FieldType::Datetime);
        assert!(same_value(
            Some(&t),
            &json!("2026-12-01T10:00:00Z"),
            &json!("2026-12-01T13:00:00+03:00")
        ));
        assert!(!same_value(
            Some(&t),
            &json!("2026-12-01T10:00:00Z"),
            &json!("2026-12-01T10:00:01Z")
        ));
        let s = def(FieldType::String);
        assert!(!same_value(Some(&s), &json!("5"), &json!("5.0")));
    }
}
