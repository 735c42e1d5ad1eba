//! `app.<code>`: a robot of a type registered by an application
//! ([`crate::apps`]). Its settings are an object checked against the type's
//! settings schema when the robot is saved (422 `settings.<prop>`); string
//! settings are templates. A run POSTs the rendered settings, the item and
//! an event token to the type's handler, after the commit, and waits
//! (`waiting`) for the application's answer (`POST /v1/robot-events/{token}`)
//! or the type's timeout.

use chrono::Duration;
use serde::ser::SerializeStruct;
use serde_json::{Map, json};

use super::prelude::*;
use crate::apps::APP_PREFIX;
use crate::apps::event::{AppWait, new_token, token_hash};
use crate::apps::robot_type::{RobotTypeDef, is_code};
use crate::error::FieldError;
use crate::http_call::HttpRequest;
use crate::model::{OutboxRecord, RunStatus};
use crate::webhook::call::WebhookCall;
use crate::webhook::guard::check_url;

/// Most settings of an application robot (the schema allows as many).
pub const MAX_SETTINGS: usize = crate::apps::schema::MAX_PROPERTIES;
/// The handler's own timeout per request (seconds).
pub const HANDLER_TIMEOUT_SECONDS: u64 = 10;

/// An application robot's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AppRobot {
    /// The registered type's code.
    pub code: String,
    /// Property → value (strings are templates).
    pub settings: Map<String, Value>,
    /// The return schema's properties when the robot was saved: its outputs
    /// (`{{robot.<id>.<prop>}}`). Stored with the robot as `app_outputs`.
    pub outputs: Vec<String>,
}

/// `{"type", "settings"?, "app_outputs"?}` before the type is known.
#[derive(Deserialize)]
pub(crate) struct RawAction {
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default, deserialize_with = "present")]
    pub settings: Option<Value>,
    #[serde(default)]
    pub app_outputs: Vec<String>,
}

/// A present `settings` (even `null`) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl RawAction {
    /// The body a built-in type reads.
    pub(crate) fn builtin(self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(self.ty));
        if let Some(s) = self.settings {
            m.insert("settings".into(), s);
        }
        Value::Object(m)
    }
}

/// The JSON Schema of an application robot's `{"type", "settings",
/// "app_outputs"}` (the settings are checked against the registered type).
pub(crate) fn variant_schema() -> Value {
    json!({
        "type": "object",
        "description": "A robot of a type registered by an application (`app.<code>`); its settings follow the type's settings schema (GET /v1/robot-types/{code})",
        "properties": {
            "type": {"type": "string", "pattern": "^app\\.[a-z0-9_]{1,50}$"},
            "settings": {"type": "object"},
            "app_outputs": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["type", "settings"]
    })
}

impl AppRobot {
    pub(crate) fn from_raw(raw: RawAction) -> Result<AppRobot, String> {
        let code = raw.ty[APP_PREFIX.len()..].to_string();
        if !is_code(&code) {
            return Err(format!(
                "unknown variant `{}`: an application's type is app.<code> with a code of [a-z0-9_] (1–50 characters)",
                raw.ty
            ));
        }
        let settings = match raw.settings {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err("settings: must be a JSON object".into()),
        };
        Ok(AppRobot {
            code,
            settings,
            outputs: raw.app_outputs,
        })
    }

    /// `app.<code>`.
    pub fn type_name(&self) -> String {
        format!("{APP_PREFIX}{}", self.code)
    }

    pub(crate) fn serialize_action<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Action", 3)?;
        st.serialize_field("type", &self.type_name())?;
        st.serialize_field("settings", &self.settings)?;
        st.serialize_field("app_outputs", &self.outputs)?;
        st.end()
    }

    /// The string settings as templates (a syntax error: the setting and why).
    fn templates(&self) -> Vec<(String, Result<Template, String>)> {
        self.settings
            .iter()
            .filter_map(|(k, v)| {
                let s = v.as_str()?;
                Some((k.clone(), Template::parse(s).map_err(|e| e.to_string())))
            })
            .collect()
    }

    /// Does a setting use outputs of earlier robots?
    pub fn uses_outputs(&self) -> bool {
        self.templates().iter().any(|(_, t)| {
            t.as_ref()
                .is_ok_and(|t| t.placeholders().any(|p| p.starts_with("robot.")))
        })
    }

    /// Save-time checks that need no store: placeholders of the templates.
    pub(crate) fn check(&self, cx: &mut Check<'_>) {
        if self.settings.len() > MAX_SETTINGS {
            cx.err(
                "settings",
                format!("{} settings; at most {MAX_SETTINGS}", self.settings.len()),
            );
        }
        for (k, t) in self.templates() {
            let field = format!("settings.{k}");
            match t {
                Ok(t) => cx.template(&field, &t),
                Err(e) => cx.err(field, e),
            }
        }
    }

    /// Check the settings against the registered type (`None`: not
    /// registered) and take its outputs.
    pub(crate) fn resolve(&mut self, def: Option<&RobotTypeDef>) -> Vec<FieldError> {
        let Some(def) = def else {
            return vec![FieldError {
                field: "type".into(),
                message: format!(
                    "unknown robot type '{}': no application robot type '{}' is registered (POST /v1/robot-types)",
                    self.type_name(),
                    self.code
                ),
            }];
        };
        self.outputs = def.returns().properties.keys().cloned().collect();
        def.settings().check_values("settings", &self.settings)
    }

    /// The settings as sent: templates rendered, other values as they are.
    fn rendered(&self, cx: &RunContext<'_>) -> Map<String, Value> {
        self.settings
            .iter()
            .map(|(k, v)| {
                let v = match v.as_str().map(Template::parse) {
                    Some(Ok(t)) => Value::String(cx.render(&t)),
                    _ => v.clone(),
                };
                (k.clone(), v)
            })
            .collect()
    }

    pub(crate) async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let Some(def) = cx.engine.find_robot_type(cx.tenant, &self.code).await? else {
            return fail(format!(
                "robot type deleted: no application robot type '{}' is registered",
                self.code
            ));
        };
        if let Err(why) = check_url(&def.handler_url) {
            return fail(format!(
                "POST {}: destination refused: {why}",
                def.handler_url
            ));
        }
        let token = new_token();
        let deadline = cx.now + Duration::seconds(def.timeout_seconds as i64);
        let item = cx.item;
        let body = json!({
            "event_token": token,
            "code": self.code,
            "run_id": cx.run.id,
            "robot_id": cx.robot.id,
            "deadline": deadline,
            "item": {
                "id": item.id,
                "entity_type": item.entity_type,
                "pipeline_id": item.pipeline_id,
                "stage_id": item.stage_id,
                "title": item.title,
                "amount": item.amount,
                "currency": item.currency,
                "responsible_id": item.responsible_id,
                "fields": item.fields,
            },
            "settings": self.rendered(cx),
        })
        .to_string();
        let call = WebhookCall {
            tenant: cx.tenant.to_string(),
            run_id: cx.run.id.clone(),
            item_id: item.id.clone(),
            visit: cx.run.visit,
            request: HttpRequest {
                method: "POST".into(),
                url: def.handler_url.clone(),
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: Some(body),
                timeout_seconds: HANDLER_TIMEOUT_SECONDS,
            },
            outputs: Default::default(),
            attempts: 0,
            next_at: cx.now,
            last: None,
            app_deadline: Some(deadline),
        };
        let wait = AppWait {
            tenant: cx.tenant.to_string(),
            run_id: cx.run.id.clone(),
            item_id: item.id.clone(),
            visit: cx.run.visit,
            code: self.code.clone(),
            token_hash: token_hash(&token),
            deadline,
            timeout_seconds: def.timeout_seconds,
            return_schema: def.returns(),
        };
        let mut writes = vec![put(call.doc(1), Cond::Absent)];
        writes.extend(wait.writes());
        writes.push(cx.engine.outbox_write(
            cx.tenant,
            &format!("webhook|{}", cx.run.id),
            &OutboxRecord::CallWebhook {
                tenant: cx.tenant.to_string(),
                run_id: cx.run.id.clone(),
            },
        ));
        Ok(Effect::ended(
            RunStatus::Waiting,
            format!(
                "waiting: calling the application's handler POST {} (robot type '{}')",
                def.handler_url, self.code
            ),
        )
        .with(writes))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::{Action, Robot};

    #[test]
    fn an_app_robot_reads_and_writes_as_type_app_dot_code() {
        let r: Robot = serde_json::from_value(json!({
            "id": "r1", "pipeline_id": "p", "stage_id": "new", "order": 1, "name": "x",
            "type": "app.crm_sync", "settings": {"text": "Hi {{title}}", "n": 2},
            "delay": {"mode": "immediately"}, "respect_working_hours": false,
            "condition": null, "after_previous": false
        }))
        .unwrap();
        let Action::App(a) = &r.action else {
            panic!("not an app robot")
        };
        assert_eq!(a.code, "crm_sync");
        assert_eq!(r.action.api_type(), "app.crm_sync");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["type"], "app.crm_sync");
        assert_eq!(v["settings"]["n"], 2);
        let back: Robot = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn built_in_types_still_read_with_their_errors() {
        let e = serde_json::from_value::<Action>(
            json!({"type": "create_task", "settings": {"nope": 1}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `nope`"), "{e}");
        let e = serde_json::from_value::<Action>(json!({"type": "app.Bad", "settings": {}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("app.Bad"), "{e}");
        let a: Action = serde_json::from_value(
            json!({"type": "add_history_record", "settings": {"text": "x"}}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&a).unwrap()["type"],
            "add_history_record"
        );
    }
}
