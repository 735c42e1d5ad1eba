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
