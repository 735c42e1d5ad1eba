//! `modify_item`: sets fields of the item. String values are templates (a
//! value that is exactly one placeholder keeps its type); other JSON values
//! are set as they are.

use std::collections::BTreeMap;

use super::prelude::*;
use crate::check::{RESPONSIBLE, SUPERVISOR};
use crate::context::{WritablePath, writable_path};
use crate::fields::{check_fields, same_value};
use crate::model::{FieldType, Item, Pipeline};
use crate::template::format_value;

/// `modify_item`: field path → value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyItem {
    pub fields: BTreeMap<String, Value>,
}

impl RobotType for ModifyItem {
    const GROUP: Group = Group::ItemManagement;
    const DESCRIPTION: &'static str = "Change fields of the item";

    fn check(&self, cx: &mut Check<'_>) {
        cx.require(
            !self.fields.is_empty(),
            "settings.fields",
            "name at least one field",
        );
        for (path, value) in &self.fields {
            let field = format!("settings.fields.{path}");
            let Some(target) = writable_path(cx.pipeline, path) else {
                cx.err(&field, format!("unknown or read-only field '{path}'"));
                continue;
            };
            // The responsible and `user` custom fields name users of the tenant.
            let is_user = match target {
                WritablePath::ResponsibleId => true,
                WritablePath::Field(key) => cx
                    .pipeline
                    .field(key)
                    .is_some_and(|d| d.field_type == FieldType::User),
                _ => false,
            };
            match value {
                Value::String(src) => match Template::parse(src) {
                    Ok(t) => cx.template(&field, &t),
                    Err(e) => cx.err(&field, e.to_string()),
                },
                Value::Null if target != WritablePath::ResponsibleId => {}
                _ if is_user => cx.err(&field, "must be a user id"),
                _ => {}
            }
            if is_user
                && let Value::String(u) = value
                && !u.contains("{{")
            {
                cx.user(field.clone(), u);
            }
        }
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let mut item = cx.item.clone();
        let mut changed = Vec::new();
        for (path, raw) in &self.fields {
            let v = match raw {
                Value::String(src) => match Template::parse(src) {
                    Ok(t) => cx.render_value(&t),
                    Err(e) => return fail(format!("{path}: {e}")),
                },
                v => v.clone(),
            };
            let before = item.clone();
            set(cx, &mut item, path, v).await?;
            if changed_value(cx.pipeline, &before, &mut item, path) {
                changed.push(path.clone());
            }
        }
        if changed.is_empty() {
            return Ok(Effect::done(Vec::new()).note("no field changed"));
        }
        let tl = vec![cx.timeline_entry(
            "fields_changed",
            None,
            format!("Robot changed {}", changed.join(", ")),
            serde_json::json!({"fields": changed}),
        )];
        let note = format!("changed {}", changed.join(", "));
        Ok(cx.item_effect(item, None, changed, tl).note(note))
    }
}

/// Set one path of `item` to the rendered value `v`.
async fn set(
    cx: &RunContext<'_>,
    item: &mut Item,
    path: &str,
    v: Value,
) -> Result<(), super::ActionError> {
    let text = || format_value(&v);
    let Some(target) = writable_path(cx.pipeline, path) else {
        return match path.strip_prefix("fields.") {
            Some(key) => fail(format!("unknown field '{key}'")),
            None => fail(format!("'{path}' cannot be modified")),
        };
    };
    let client_value = || (!v.is_null()).then(text);
    match target {
        WritablePath::Title => {
            if text().trim().is_empty() {
                return fail("title would be empty");
            }
            item.title = text();
        }
        WritablePath::Amount => match v.as_f64().or_else(|| text().trim().parse().ok()) {
            Some(a) => match crate::money::check_amount(a) {
                Ok(a) => item.amount = a,
                Err(e) => return fail(format!("amount: {e}")),
            },
            None => return fail(format!("amount: '{}' is not a number", text())),
        },
        WritablePath::Currency => item.currency = text(),
        WritablePath::IsRepeat => {
            item.is_repeat = match &v {
                Value::Bool(b) => *b,
                _ => matches!(text().to_lowercase().as_str(), "true" | "y" | "yes" | "1"),
            }
        }
        WritablePath::ResponsibleId => {
            let u = text();
            if cx.engine.user(cx.tenant, &u).await?.is_none() {
                return fail(format!("responsible_id: user '{u}' not found"));
            }
            item.responsible_id = u;
        }
        WritablePath::ClientName => item.client.name = client_value(),
        WritablePath::ClientPhone => item.client.phone = client_value(),
        WritablePath::ClientEmail => item.client.email = client_value(),
        WritablePath::Field(key) => set_field(cx, item, key, v).await?,
    }
    Ok(())
}

/// Did setting `path` change the item's value (by the field's type: `5.0`
/// over `5` in a number field is no change)? When it did not, the stored
/// spelling is kept.
fn changed_value(pipeline: &Pipeline, before: &Item, after: &mut Item, path: &str) -> bool {
    if let Some(key) = path.strip_prefix("fields.") {
        return match (before.fields.get(key), after.fields.get(key)) {
            (None, None) => false,
            (Some(old), Some(new)) if same_value(pipeline.field(key), old, new) => {
                after.fields.insert(key.to_string(), old.clone());
                false
            }
            _ => true,
        };
    }
    serde_json::to_value(&*after).ok() != serde_json::to_value(before).ok()
}

/// Set a custom field (coerced to its type, checked like an API write; a
/// `user` field must name a user of the tenant).
async fn set_field(
    cx: &RunContext<'_>,
    item: &mut Item,
    key: &str,
    v: Value,
) -> Result<(), super::ActionError> {
    let Some(def) = cx.pipeline.field(key) else {
        return fail(format!("unknown field '{key}'"));
    };
    let mut coerced = coerce(def.field_type, v);
    if def.field_type == FieldType::User
        && let Some(spec @ (RESPONSIBLE | SUPERVISOR)) = coerced.as_str()
    {
        coerced = Value::String(cx.resolve_user(spec).await?);
    }
    let one: BTreeMap<String, Value> = [(key.to_string(), coerced.clone())].into();
    if let Some(e) = check_fields(cx.pipeline, &one).into_iter().next() {
        return fail(format!("{}: {}", e.field, e.message));
    }
    if def.field_type == FieldType::User
        && let Some(u) = coerced.as_str()
        && cx.engine.user(cx.tenant, u).await?.is_none()
    {
        return fail(format!("fields.{key}: user '{u}' not found"));
    }
    if coerced.is_null() {
        item.fields.remove(key);
    } else {
        item.fields.insert(key.to_string(), coerced);
    }
    Ok(())
}

/// Coerce a rendered value to a field type where the text form is unambiguous.
fn coerce(t: FieldType, v: Value) -> Value {
    use FieldType as F;
    match (t, &v) {
        (F::Number, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(v, Value::Number),
        (F::Bool, Value::String(s)) => match s.to_lowercase().as_str() {
            "true" | "y" | "yes" | "1" => Value::Bool(true),
            "false" | "n" | "no" | "0" | "" => Value::Bool(false),
            _ => v,
        },
        (
            F::String | F::User | F::File | F::Date | F::Datetime | F::List,
            Value::Number(_) | Value::Bool(_),
        ) => Value::String(format_value(&v)),
        (F::List, Value::String(s)) if s.is_empty() => Value::Null,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::robots::check_tests::{check, users};

    #[test]
    fn only_writable_fields_and_known_placeholders_are_accepted() {
        let (errors, refs) = check(
            "modify_item",
            json!({"fields": {
                "title": "{{title}} (checked)",
                "fields.budget": 100,
                "stage_id": "won",
                "fields.nope": 1,
                "amount": "{{nope}}",
                "responsible_id": "u-dan"
            }}),
        );
        assert_eq!(
            errors,
            ["settings.fields.amount", "settings.fields.fields.nope", "settings.fields.stage_id"]
        );
        assert_eq!(users(&refs), ["u-dan"]);
        let (errors, _) = check("modify_item", json!({"fields": {"responsible_id": 5}}));
        assert_eq!(errors, ["settings.fields.responsible_id"]);
    }

    #[test]
    fn rendered_text_takes_the_type_of_the_field() {
        assert_eq!(coerce(FieldType::Number, json!(" 12.5 ")), json!(12.5));
        assert_eq!(coerce(FieldType::Number, json!("many")), json!("many"));
        assert_eq!(coerce(FieldType::Bool, json!("Yes")), json!(true));
        assert_eq!(coerce(FieldType::Bool, json!("")), json!(false));
        assert_eq!(coerce(FieldType::String, json!(7)), json!("7"));
        assert_eq!(coerce(FieldType::List, json!("")), Value::Null);
    }
}
