//! The catalogue of robot and trigger types (`GET /v1/catalogue`), generated
//! from the robot and trigger catalogues: each type's name, a one-line
//! description, its settings' JSON Schema (from the settings struct itself),
//! the defaults of its settings, which settings are templates, its outputs
//! (robots) and who raises its events (triggers). A form for a type can be
//! built from its entry alone.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::robots::Action;
use crate::triggers::{RaisedBy, TriggerKind};

/// Where a type is shown in the robot and trigger pickers, grouped as in
/// the reference product's articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Tasks, activities, control by the supervisor.
    EmployeeControl,
    /// Notifications, feed, chats, messages to employees.
    EmployeeAlerts,
    /// Emails, SMS and the client's own actions (reads, calls, forms, visits).
    ClientCommunication,
    /// Changing, moving, copying the item; its history.
    ItemManagement,
    /// Payments by the client.
    Payments,
    /// Calls from other systems.
    Integrations,
    /// Documents filled from the item (invoices, acts, contracts).
    Documents,
    /// Robot types registered by the tenant's applications (`app.<code>`).
    Apps,
}

/// One robot or trigger type.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogueEntry {
    /// The API name (`create_task`, `email_read`, …).
    pub name: &'static str,
    /// One line saying what it does (robots) or when it fires (triggers).
    pub description: &'static str,
    /// JSON Schema (draft 2020-12) of its `settings` object.
    pub settings_schema: Value,
    /// Settings that may be left out, with the value they then take.
    pub defaults: Map<String, Value>,
    /// Settings that are templates (`{{placeholders}}` are rendered).
    pub templates: Vec<String>,
    /// Robots: what a run produces, usable as `{{robot.<id>.<output>}}`.
    pub outputs: &'static [&'static str],
    /// Where the pickers show it.
    pub group: Group,
    /// Triggers: who raises the events (`outside` or `engine`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raised_by: Option<RaisedBy>,
}

/// Every robot and trigger type.
#[derive(Debug, Clone, Serialize)]
pub struct Catalogue {
    pub robots: Vec<CatalogueEntry>,
    pub triggers: Vec<CatalogueEntry>,
}

/// The whole catalogue.
pub fn catalogue() -> Catalogue {
    Catalogue {
        robots: Action::catalogue(),
        triggers: TriggerKind::catalogue(),
    }
}

/// The entry of one type whose settings are `T`.
pub(crate) fn entry<T: schemars::JsonSchema>(
    name: &'static str,
    description: &'static str,
    outputs: &'static [&'static str],
    group: Group,
    raised_by: Option<RaisedBy>,
) -> CatalogueEntry {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    let settings_schema = schema.to_value();
    let properties = settings_schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let defaults = properties
        .iter()
        .filter_map(|(k, p)| Some((k.clone(), p.get("default")?.clone())))
        .collect();
    let templates = properties
        .iter()
        .filter(|(_, p)| is_template(p))
        .map(|(k, _)| k.clone())
        .collect();
    CatalogueEntry {
        name,
        description,
        settings_schema,
        defaults,
        templates,
        outputs,
        group,
        raised_by,
    }
}

/// Is this property schema a template (or an optional one)?
fn is_template(p: &Value) -> bool {
    p.get("format").and_then(Value::as_str) == Some("template")
        || ["anyOf", "oneOf"].iter().any(|k| {
            p.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|v| v.iter().any(is_template))
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn robot(name: &str) -> CatalogueEntry {
        catalogue()
            .robots
            .into_iter()
            .find(|e| e.name == name)
            .unwrap()
    }

    #[test]
    fn a_robot_entry_tells_its_templates_defaults_required_settings_and_outputs() {
        let e = robot("create_task");
        assert_eq!(e.templates, ["description", "title"]);
        assert_eq!(e.outputs, ["task_id"]);
        assert_eq!(e.settings_schema["required"], json!(["title"]));
        assert_eq!(e.settings_schema["additionalProperties"], json!(false));
        assert_eq!(e.defaults["time_tracking"], json!(false));
        let e = robot("plan_activity");
        assert_eq!(e.defaults["auto_complete"], json!(true));
        assert!(e.templates.contains(&"address".to_string()));
    }

    #[test]
    fn trigger_entries_say_who_raises_the_event() {
        let c = catalogue();
        let by = |n: &str| c.triggers.iter().find(|e| e.name == n).unwrap().raised_by;
        assert_eq!(by("field_changed"), Some(RaisedBy::Engine));
        assert_eq!(by("invoice_paid"), Some(RaisedBy::Outside));
        assert_eq!(c.triggers.len(), crate::triggers::TRIGGER_TYPES.len());
        assert_eq!(c.robots.len(), crate::robots::ROBOT_TYPES.len());
    }
}
