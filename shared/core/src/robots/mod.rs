//! Robots: actions on a stage (SPEC.md §2).
//!
//! Every robot type lives in a file of its own, named after the type: its
//! settings struct (`deny_unknown_fields`), its save-time checks, the action,
//! and its unit tests, behind the [`RobotType`] trait. The one catalogue
//! below lists them; from it the [`Action`] enum (`{"type", "settings"}`),
//! [`ROBOT_TYPES`], the outputs, the templates and the dispatch of checks
//! and actions are generated, with exhaustive matches.
//!
//! Adding a robot type: one new file with the struct and its `RobotType`
//! impl, and one line in [`robot_catalogue!`]'s invocation below.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::catalogue::{CatalogueEntry, entry};
use crate::check::Check;
use crate::template::Template;

pub mod app;
pub mod attachments;
mod audience_change;
mod prelude;
mod robot;
pub mod run_context;
pub mod wait_for;

pub use robot::{Robot, validate_robot};
pub use run_context::{ActionError, ActionResult, Effect, RunContext, fail};

/// One robot type: its settings are `Self`.
pub trait RobotType: Serialize + DeserializeOwned + schemars::JsonSchema + Sync {
    /// One line for the catalogue.
    const DESCRIPTION: &'static str;
    /// What a run of this type produces, usable as `{{robot.<id>.<output>}}`.
    const OUTPUTS: &'static [&'static str] = &[];
    /// Where the robot picker shows it.
    const GROUP: crate::catalogue::Group;

    /// Outputs named by the settings (beyond [`Self::OUTPUTS`]), e.g. the
    /// answer fields a `call_webhook` maps.
    fn extra_outputs(&self) -> Vec<&str> {
        Vec::new()
    }

    /// Every template of the settings, with the settings key it sits under.
    fn templates(&self) -> Vec<(&'static str, &Template)> {
        Vec::new()
    }

    /// Save-time checks beyond the settings' shape: rules between settings,
    /// references to users, departments, stages, other pipelines.
    fn check(&self, cx: &mut Check<'_>) {
        let _ = cx;
    }

    /// Perform the action: compute its effect (writes to commit with the
    /// run's final record). A [`ActionError::Failed`] is recorded as a failed
    /// run; any other error is transient and the run is retried.
    fn perform(&self, cx: &RunContext<'_>) -> impl Future<Output = ActionResult> + Send;
}

/// Generates [`Action`] and its dispatch from `module => SettingsType` lines:
/// the module is named after the type's API name and holds `SettingsType`.
macro_rules! robot_catalogue {
    ($($module:ident => $ty:ident),+ $(,)?) => {
        $(pub mod $module;)+
        pub use self::{$($module::$ty),+};

        /// The action of a robot with its settings: `{"type": "...", "settings": {...}}`.
        /// Besides the built-in types, `app.<code>`: a type registered by an
        /// application ([`app`]).
        #[derive(Debug, Clone, PartialEq)]
        pub enum Action {
            $($ty($ty),)+
            /// A robot type registered by an application (`app.<code>`).
            App(app::AppRobot),
        }

        /// The built-in types as serde sees them.
        #[derive(Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "type", content = "settings", rename_all = "snake_case")]
        #[schemars(rename = "Action")]
        enum Builtin {
            $($ty($ty),)+
        }

        /// [`Builtin`] by reference, for serializing.
        #[derive(Serialize)]
        #[serde(tag = "type", content = "settings", rename_all = "snake_case")]
        enum BuiltinRef<'a> {
            $($ty(&'a $ty),)+
        }

        impl Serialize for Action {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Action::$ty(x) => BuiltinRef::$ty(x).serialize(s),)+
                    Action::App(a) => a.serialize_action(s),
                }
            }
        }

        impl<'de> Deserialize<'de> for Action {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let raw = app::RawAction::deserialize(d)?;
                if raw.ty.starts_with(crate::apps::APP_PREFIX) {
                    return app::AppRobot::from_raw(raw).map(Action::App).map_err(D::Error::custom);
                }
                let b: Builtin = serde_json::from_value(raw.builtin()).map_err(D::Error::custom)?;
                Ok(match b {
                    $(Builtin::$ty(x) => Action::$ty(x),)+
                })
            }
        }

        impl schemars::JsonSchema for Action {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <Builtin as schemars::JsonSchema>::schema_name()
            }
            fn schema_id() -> std::borrow::Cow<'static, str> {
                <Builtin as schemars::JsonSchema>::schema_id()
            }
            fn inline_schema() -> bool {
                <Builtin as schemars::JsonSchema>::inline_schema()
            }
            /// The built-in types, then `app.<code>` (an application's type).
            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mut s = <Builtin as schemars::JsonSchema>::json_schema(g);
                if let Some(serde_json::Value::Array(v)) =
                    s.as_object_mut().and_then(|o| o.get_mut("oneOf"))
                {
                    v.push(app::variant_schema());
                }
                s
            }
        }

        /// The robot types, in catalogue order.
        pub const ROBOT_TYPES: &[&str] = &[$(stringify!($module)),+];

        impl Action {
            /// The API name of the type.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Action::$ty(_) => stringify!($module),)+
                    Action::App(_) => "app",
                }
            }

            /// The type as the API names it: the built-in name, or
            /// `app.<code>` for an application's type.
            pub fn api_type(&self) -> String {
                match self {
                    Action::App(a) => a.type_name(),
                    _ => self.type_name().to_string(),
                }
            }

            /// The outputs a robot of this type produces.
            pub fn outputs(&self) -> &'static [&'static str] {
                match self {
                    $(Action::$ty(_) => <$ty as RobotType>::OUTPUTS,)+
                    Action::App(_) => &[],
                }
            }

            /// Does a robot with these settings produce `output`?
            pub fn has_output(&self, output: &str) -> bool {
                self.outputs().contains(&output)
                    || match self {
                        $(Action::$ty(s) => s.extra_outputs().contains(&output),)+
                        Action::App(a) => a.outputs.iter().any(|o| o == output),
                    }
            }

            /// Every template of the settings, with the settings key it sits under.
            pub fn templates(&self) -> Vec<(&'static str, &Template)> {
                match self {
                    $(Action::$ty(s) => s.templates(),)+
                    Action::App(_) => Vec::new(),
                }
            }

            pub(crate) fn check(&self, cx: &mut Check<'_>) {
                match self {
                    $(Action::$ty(s) => s.check(cx),)+
                    Action::App(a) => a.check(cx),
                }
            }

            pub(crate) async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
                match self {
                    $(Action::$ty(s) => s.perform(cx).await,)+
                    Action::App(a) => a.perform(cx).await,
                }
            }

            /// Every robot type with its settings' JSON Schema, outputs and description.
            pub fn catalogue() -> Vec<CatalogueEntry> {
                vec![$(entry::<$ty>(
                    stringify!($module),
                    <$ty as RobotType>::DESCRIPTION,
                    <$ty as RobotType>::OUTPUTS,
                    <$ty as RobotType>::GROUP,
                    None,
                )),+]
            }
        }
    };
}

robot_catalogue! {
    notify_supervisor => NotifySupervisor,
    add_history_record => AddHistoryRecord,
    create_task => CreateTask,
    complete_task => CompleteTask,
    plan_activity => PlanActivity,
    notify_employee => NotifyEmployee,
    add_timeline_comment => AddTimelineComment,
    add_feed_post => AddFeedPost,
    create_group_chat => CreateGroupChat,
    add_chat_members => AddChatMembers,
    send_chat_message => SendChatMessage,
    send_direct_message => SendDirectMessage,
    email_employee => EmailEmployee,
    sms_employee => SmsEmployee,
    modify_item => ModifyItem,
    change_stage => ChangeStage,
    change_responsible => ChangeResponsible,
    copy_item => CopyItem,
    delete_item => DeleteItem,
    email_client => EmailClient,
    sms_client => SmsClient,
    create_document => CreateDocument,
    call_client => CallClient,
    message_client => MessageClient,
    add_to_audience => AddToAudience,
    remove_from_audience => RemoveFromAudience,
    call_webhook => CallWebhook,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_names_match_the_serialized_type_names() {
        // A wrong name would be an unknown variant; a right one only misses
        // (or accepts) settings.
        for name in ROBOT_TYPES {
            let got = serde_json::from_value::<Action>(serde_json::json!({
                "type": name,
                "settings": {},
            }));
            match got {
                Ok(a) => assert_eq!(a.type_name(), *name),
                Err(e) => assert!(!e.to_string().contains("unknown variant"), "{name}: {e}"),
            }
        }
        let names: Vec<&str> = Action::catalogue().iter().map(|e| e.name).collect();
        assert_eq!(names, ROBOT_TYPES);
    }
}

/// What the robot files' own tests share: a pipeline, and the save-time
/// checks of one robot type's settings against it.
#[cfg(test)]
pub(crate) mod check_tests {
    use serde_json::{Value, json};

    use super::Action;
    use crate::check::{Check, Refs};
    use crate::context::is_item_path;
    use crate::model::Pipeline;

    /// Stages `new`, `prep`, `won`; fields `budget` (number), `due` (date),
    /// `owner` (user).
    pub fn pipeline() -> Pipeline {
        serde_json::from_value(json!({
            "id": "deals", "entity_type": "deal", "name": "Deals",
            "stages": [
                {"id": "new", "name": "New"},
                {"id": "prep", "name": "Preparation"},
                {"id": "won", "name": "Won", "semantic": "success"}
            ],
            "fields": [
                {"key": "budget", "type": "number"},
                {"key": "due", "type": "date"},
                {"key": "owner", "type": "user"}
            ]
        }))
        .unwrap()
    }

    /// The settings paths with problems, and the references to look up.
    pub fn check(robot_type: &str, settings: Value) -> (Vec<String>, Refs) {
        let action: Action =
            serde_json::from_value(json!({"type": robot_type, "settings": settings})).unwrap();
        let pipeline = pipeline();
        let known = |p: &str| is_item_path(&pipeline, p);
        let mut cx = Check::new(&pipeline, &known);
        for (key, t) in action.templates() {
            cx.template(&format!("settings.{key}"), t);
        }
        action.check(&mut cx);
        let (errors, refs) = cx.finish();
        (errors.into_iter().map(|e| e.field).collect(), refs)
    }

    /// The user ids a check will look up.
    pub fn users(refs: &Refs) -> Vec<&str> {
        refs.users.iter().map(|(_, u)| u.as_str()).collect()
    }
}
