//! A JSON value whose strings are templates (a webhook's body): stored and
//! shown as the JSON given; every string is parsed as a [`Template`] on
//! deserialization (a syntax error fails it) and rendered in place.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::template::Template;

/// JSON with `{{placeholders}}` in its strings.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonTemplate {
    value: Value,
    /// Every string of `value`, parsed, in depth-first order.
    templates: Vec<Template>,
}

impl JsonTemplate {
    pub fn new(value: Value) -> Result<JsonTemplate, crate::template::TemplateError> {
        let mut templates = Vec::new();
        collect(&value, &mut templates)?;
        Ok(JsonTemplate { value, templates })
    }

    /// The JSON as given.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Every template in it.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// The JSON with every string rendered by `render`.
    pub fn render(&self, render: &dyn Fn(&Template) -> String) -> Value {
        let mut it = self.templates.iter();
        fill(&self.value, &mut it, render)
    }
}

fn collect(v: &Value, out: &mut Vec<Template>) -> Result<(), crate::template::TemplateError> {
    match v {
        Value::String(s) => out.push(Template::parse(s)?),
        Value::Array(items) => {
            for i in items {
                collect(i, out)?;
            }
        }
        Value::Object(map) => {
            for v in map.values() {
                collect(v, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn fill<'a>(
    v: &Value,
    it: &mut impl Iterator<Item = &'a Template>,
    render: &dyn Fn(&Template) -> String,
) -> Value {
    match v {
        Value::String(_) => Value::String(it.next().map(render).unwrap_or_default()),
        Value::Array(items) => Value::Array(items.iter().map(|i| fill(i, it, render)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, it, render)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Serialize for JsonTemplate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for JsonTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        JsonTemplate::new(value).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for JsonTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonTemplate".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Any JSON; "object" first, so a form edits it as JSON.
        schemars::json_schema!({
            "type": ["object", "array", "string", "number", "boolean"],
            "description": "JSON sent as the body; every string in it is a template ({{placeholders}} of the item)"
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_render_in_place_and_other_values_stay() {
        let t: JsonTemplate = serde_json::from_value(json!({
            "deal": "{{title}}", "n": 3, "tags": ["a", "{{id}}"], "ok": true
        }))
        .unwrap();
        assert_eq!(t.templates().len(), 3);
        let out = t.render(&|t| format!("<{}>", t.source()));
        assert_eq!(
            out,
            json!({"deal": "<{{title}}>", "n": 3, "tags": ["<a>", "<{{id}}>"], "ok": true})
        );
        assert!(serde_json::from_value::<JsonTemplate>(json!({"x": "{{oops"})).is_err());
    }
}
