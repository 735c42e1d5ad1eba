//! The JSON Schema subset of an application's robot type: the shape of its
//! settings and of its return values. An object schema whose `properties`
//! are each `{"type": "string"|"number"|"integer"|"boolean", "title"?,
//! "description"?, "default"?}`, with `required` naming some of them;
//! at most [`MAX_PROPERTIES`] properties, names `[a-z0-9_]{1,50}`. Anything
//! else is refused with the path of the offending part.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::FieldError;

/// Most properties of one schema.
pub const MAX_PROPERTIES: usize = 50;
/// Longest `title` / `description` of a property (characters).
pub const MAX_TEXT_CHARS: usize = 1_000;
/// Longest string value (settings and return values, characters).
pub const MAX_STRING_CHARS: usize = 10_000;

/// A property's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropType {
    String,
    Number,
    Integer,
    Boolean,
}

impl PropType {
    fn parse(s: &str) -> Option<PropType> {
        Some(match s {
            "string" => PropType::String,
            "number" => PropType::Number,
            "integer" => PropType::Integer,
            "boolean" => PropType::Boolean,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            PropType::String => "string",
            PropType::Number => "number",
            PropType::Integer => "integer",
            PropType::Boolean => "boolean",
        }
    }

    /// Does `v` have this type?
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            PropType::String => v.is_string(),
            PropType::Number => v.is_number(),
            PropType::Integer => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            PropType::Boolean => v.is_boolean(),
        }
    }
}

/// One property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prop {
    #[serde(rename = "type")]
    pub prop_type: PropType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// A checked schema of the subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValueSchema {
    pub properties: BTreeMap<String, Prop>,
    #[serde(default)]
    pub required: Vec<String>,
}

/// Is `name` a property name (`[a-z0-9_]{1,50}`)?
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl ValueSchema {
    /// Read `v` (the body's `field`) as a schema of the subset, or name
    /// every part that is not.
    pub fn parse(field: &str, v: &Value) -> Result<ValueSchema, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |f: String, m: String| {
            errors.push(FieldError {
                field: f,
                message: m,
            })
        };
        let Some(obj) = v.as_object() else {
            err(field.into(), "must be a JSON Schema object".into());
            return Err(errors);
        };
        for (k, val) in obj {
            match k.as_str() {
                "type" if val == "object" => {}
                "type" => err(format!("{field}.type"), "must be \"object\"".into()),
                "properties" | "required" => {}
                "title" | "description" if text_ok(val) => {}
                "title" | "description" => err(
                    format!("{field}.{k}"),
                    format!("must be a string of at most {MAX_TEXT_CHARS} characters"),
                ),
                "$schema" if val.is_string() => {}
                "additionalProperties" if val == &Value::Bool(false) => {}
                _ => err(
                    format!("{field}.{k}"),
                    "not supported: a schema has only type (object), title, description, properties and required".into(),
                ),
            }
        }
        let mut properties = BTreeMap::new();
        match obj.get("properties") {
            None => {}
            Some(Value::Object(props)) => {
                if props.len() > MAX_PROPERTIES {
                    err(
                        format!("{field}.properties"),
                        format!("{} properties; at most {MAX_PROPERTIES}", props.len()),
                    );
                }
                for (name, p) in props {
                    let pf = format!("{field}.properties.{name}");
                    if !is_name(name) {
                        err(
                            pf,
                            format!("'{name}' is not a property name ([a-z0-9_], 1–50 characters)"),
                        );
                        continue;
                    }
                    match parse_prop(&pf, p) {
                        Ok(p) => {
                            properties.insert(name.clone(), p);
                        }
                        Err(e) => errors_extend(&mut err, e),
                    }
                }
            }
            Some(_) => err(format!("{field}.properties"), "must be an object".into()),
        }
        let mut required = Vec::new();
        match obj.get("required") {
            None => {}
            Some(Value::Array(names)) => {
                for (i, n) in names.iter().enumerate() {
                    match n.as_str() {
                        Some(n) if properties.contains_key(n) => {
                            if !required.iter().any(|r| r == n) {
                                required.push(n.to_string());
                            }
                        }
                        Some(n) => err(
                            format!("{field}.required[{i}]"),
                            format!("'{n}' is not one of the properties"),
                        ),
                        None => err(format!("{field}.required[{i}]"), "must be a string".into()),
                    }
                }
            }
            Some(_) => err(
                format!("{field}.required"),
                "must be an array of property names".into(),
            ),
        }
        if errors.is_empty() {
            Ok(ValueSchema {
                properties,
                required,
            })
        } else {
            Err(errors)
        }
    }

    /// The schema as JSON Schema (draft 2020-12), for the catalogue.
    pub fn to_json_schema(&self) -> Value {
        let props: Map<String, Value> = self
            .properties
            .iter()
            .map(|(k, p)| {
                let mut o = Map::new();
                o.insert("type".into(), json!(p.prop_type.as_str()));
                if let Some(t) = &p.title {
                    o.insert("title".into(), json!(t));
                }
                if let Some(d) = &p.description {
                    o.insert("description".into(), json!(d));
                }
                if let Some(d) = &p.default {
                    o.insert("default".into(), d.clone());
                }
                if p.prop_type == PropType::String {
                    o.insert("format".into(), json!("template"));
                }
                (k.clone(), Value::Object(o))
            })
            .collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": props,
            "required": self.required,
            "additionalProperties": false,
        })
    }

    /// Check `values` (the body's `field`): every required property there,
    /// every value of its property's type, no other properties.
    pub fn check_values(&self, field: &str, values: &Map<String, Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for name in &self.required {
            if values.get(name).is_none_or(Value::is_null) {
                errors.push(FieldError {
                    field: format!("{field}.{name}"),
                    message: "is required".into(),
                });
            }
        }
        for (name, v) in values {
            let f = format!("{field}.{name}");
            match self.properties.get(name) {
                None => errors.push(FieldError {
                    field: f,
                    message: format!("'{name}' is not a property of the schema"),
                }),
                Some(_) if v.is_null() => {}
                Some(p) if !p.prop_type.accepts(v) => errors.push(FieldError {
                    field: f,
                    message: format!("must be of type {}", p.prop_type.as_str()),
                }),
                Some(_)
                    if v.as_str()
                        .is_some_and(|s| s.chars().count() > MAX_STRING_CHARS) =>
                {
                    errors.push(FieldError {
                        field: f,
                        message: format!("longer than {MAX_STRING_CHARS} characters"),
                    })
                }
                Some(_) => {}
            }
        }
        errors
    }
}

fn errors_extend(err: &mut impl FnMut(String, String), e: Vec<FieldError>) {
    for e in e {
        err(e.field, e.message);
    }
}

fn text_ok(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.chars().count() <= MAX_TEXT_CHARS)
}

fn parse_prop(field: &str, v: &Value) -> Result<Prop, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = v.as_object() else {
        return Err(vec![FieldError {
            field: field.into(),
            message: "must be an object like {\"type\": \"string\", \"title\": \"…\"}".into(),
        }]);
    };
    let prop_type = match obj
        .get("type")
        .and_then(Value::as_str)
        .and_then(PropType::parse)
    {
        Some(t) => Some(t),
        None => {
            errors.push(FieldError {
                field: format!("{field}.type"),
                message: "must be one of string, number, integer, boolean".into(),
            });
            None
        }
    };
    for (k, val) in obj {
        match k.as_str() {
            "type" => {}
            "title" | "description" if text_ok(val) => {}
            "title" | "description" => errors.push(FieldError {
                field: format!("{field}.{k}"),
                message: format!("must be a string of at most {MAX_TEXT_CHARS} characters"),
            }),
            "default" => {
                if let Some(t) = prop_type
                    && !t.accepts(val)
                {
                    errors.push(FieldError {
                        field: format!("{field}.default"),
                        message: format!("must be of type {}", t.as_str()),
                    });
                }
            }
            _ => errors.push(FieldError {
                field: format!("{field}.{k}"),
                message: "not supported: a property has only type, title, description and default"
                    .into(),
            }),
        }
    }
    match prop_type {
        Some(prop_type) if errors.is_empty() => Ok(Prop {
            prop_type,
            title: obj.get("title").and_then(Value::as_str).map(str::to_string),
            description: obj
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            default: obj.get("default").cloned(),
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Value) -> Vec<String> {
        match ValueSchema::parse("settings_schema", &v) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn the_subset_is_accepted_and_anything_else_is_named() {
        let ok = json!({"type": "object", "properties": {
            "text": {"type": "string", "title": "Text"},
            "n": {"type": "integer", "default": 3},
            "on": {"type": "boolean"}, "x": {"type": "number"}
        }, "required": ["text"]});
        assert!(fields(ok).is_empty());
        assert_eq!(fields(json!([])), ["settings_schema"]);
        assert_eq!(fields(json!({"type": "array"})), ["settings_schema.type"]);
        assert_eq!(
            fields(json!({"properties": {"a": {"type": "object"}}})),
            ["settings_schema.properties.a.type"]
        );
        assert_eq!(
            fields(json!({"properties": {"a": {"type": "string", "enum": ["x"]}}})),
            ["settings_schema.properties.a.enum"]
        );
        assert_eq!(
            fields(json!({"properties": {"Bad": {"type": "string"}}})),
            ["settings_schema.properties.Bad"]
        );
        assert_eq!(
            fields(json!({"properties": {"a": {"type": "string"}}, "required": ["b"]})),
            ["settings_schema.required[0]"]
        );
        assert_eq!(
            fields(json!({"properties": {"a": {"type": "integer", "default": "x"}}})),
            ["settings_schema.properties.a.default"]
        );
        assert_eq!(fields(json!({"oneOf": []})), ["settings_schema.oneOf"]);
        let many: Map<String, Value> = (0..51)
            .map(|i| (format!("p{i}"), json!({"type": "string"})))
            .collect();
        assert_eq!(
            fields(json!({"properties": many})),
            ["settings_schema.properties"]
        );
    }

    #[test]
    fn values_are_checked_against_the_schema() {
        let s = ValueSchema::parse(
            "s",
            &json!({"properties": {"id": {"type": "integer"}, "note": {"type": "string"}}, "required": ["id"]}),
        )
        .unwrap();
        let check = |v: Value| -> Vec<String> {
            s.check_values("return_values", v.as_object().unwrap())
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert!(check(json!({"id": 7, "note": "x"})).is_empty());
        assert!(check(json!({"id": 7.0})).is_empty());
        assert_eq!(check(json!({"note": "x"})), ["return_values.id"]);
        assert_eq!(check(json!({"id": 1.5})), ["return_values.id"]);
        assert_eq!(check(json!({"id": 1, "other": 1})), ["return_values.other"]);
        assert_eq!(check(json!({"id": 1, "note": 5})), ["return_values.note"]);
    }
}
