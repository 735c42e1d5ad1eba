//! Triggers: events that pull an item into a stage (SPEC.md §3).
//!
//! Every trigger type lives in a file of its own named after it (the types
//! without settings are one line each, through [`settings_less`]): its settings struct, its
//! save-time checks and whether an event matches its settings, behind the
//! [`TriggerType`] trait, which also declares who raises the event — the
//! engine itself (a field or the responsible changed, a task's status
//! changed) or the outside world (`POST /v1/events`). The catalogue below
//! generates [`TriggerKind`], [`TRIGGER_TYPES`] and the dispatch.
//! Selection among the triggers of a pipeline is in [`selection`].
//!
//! Adding a trigger type: one new file with the struct and its
//! `TriggerType` impl, and one line in [`trigger_catalogue!`]'s invocation.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::catalogue::{CatalogueEntry, entry};
use crate::check::Check;

pub mod selection;
mod settings_less;
mod trigger;

pub use selection::{EventFacts, Selection, TriggerSet};
pub(crate) use settings_less::settings_less;
pub use trigger::{Trigger, validate_trigger};

/// Who raises the events of a trigger type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RaisedBy {
    /// Submitted from outside through `POST /v1/events`.
    Outside,
    /// Raised by the engine when an item or task changes; recorded in the
    /// run log only where the pipeline has triggers of the type.
    Engine,
}

/// One trigger type: its settings are `Self`.
pub trait TriggerType: Serialize + DeserializeOwned + schemars::JsonSchema {
    /// One line for the catalogue.
    const DESCRIPTION: &'static str;
    /// Who raises its events.
    const RAISED_BY: RaisedBy = RaisedBy::Outside;
    /// Where the trigger picker shows it.
    const GROUP: crate::catalogue::Group;

    /// Save-time checks beyond the settings' shape.
    fn check(&self, cx: &mut Check<'_>) {
        let _ = cx;
    }

    /// Do these settings accept the event?
    fn matches(&self, facts: &EventFacts<'_>) -> bool {
        let _ = facts;
        true
    }
}

/// Generates [`TriggerKind`] and its dispatch from `module::SettingsType`
/// lines, each with the type's API name.
macro_rules! trigger_catalogue {
    ($($module:ident => $ty:ident),+ $(,)?) => {
        $(pub mod $module;)+
        pub use self::{$($module::$ty),+};

        /// The event of a trigger with its settings: `{"type": "...", "settings": {...}}`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "type", content = "settings", rename_all = "snake_case")]
        pub enum TriggerKind {
            $($ty($ty),)+
        }

        /// The event types, in catalogue order.
        pub const TRIGGER_TYPES: &[&str] = &[$(stringify!($module)),+];

        impl TriggerKind {
            /// The API name of the event type.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(TriggerKind::$ty(_) => stringify!($module),)+
                }
            }

            /// Who raises events of the type named, if it is a trigger type.
            pub fn raised_by(event_type: &str) -> Option<RaisedBy> {
                match event_type {
                    $(stringify!($module) => Some(<$ty as TriggerType>::RAISED_BY),)+
                    _ => None,
                }
            }

            pub(crate) fn check(&self, cx: &mut Check<'_>) {
                match self {
                    $(TriggerKind::$ty(s) => s.check(cx),)+
                }
            }

            /// Do the trigger's own settings accept this event?
            pub fn matches(&self, facts: &EventFacts<'_>) -> bool {
                match self {
                    $(TriggerKind::$ty(s) => s.matches(facts),)+
                }
            }

            /// Every trigger type with its settings' JSON Schema and description.
            pub fn catalogue() -> Vec<CatalogueEntry> {
                vec![$(entry::<$ty>(
                    stringify!($module),
                    <$ty as TriggerType>::DESCRIPTION,
                    &[],
                    <$ty as TriggerType>::GROUP,
                    Some(<$ty as TriggerType>::RAISED_BY),
                )),+]
            }
        }
    };
}

trigger_catalogue! {
    email_read => EmailRead,
    email_link_clicked => EmailLinkClicked,
    incoming_email => IncomingEmail,
    incoming_call => IncomingCall,
    missed_call => MissedCall,
    form_submitted => FormSubmitted,
    site_visit => SiteVisit,
    client_returned => ClientReturned,
    invoice_paid => InvoicePaid,
    field_changed => FieldChanged,
    responsible_changed => ResponsibleChanged,
    task_status => TaskStatus,
    webhook => Webhook,
    incoming_message => IncomingMessage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_names_match_the_serialized_type_names() {
        for name in TRIGGER_TYPES {
            let got = serde_json::from_value::<TriggerKind>(serde_json::json!({
                "type": name,
                "settings": {},
            }));
            match got {
                Ok(k) => assert_eq!(k.type_name(), *name),
                Err(e) => assert!(!e.to_string().contains("unknown variant"), "{name}: {e}"),
            }
        }
        let engine: Vec<&str> = TRIGGER_TYPES
            .iter()
            .copied()
            .filter(|t| TriggerKind::raised_by(t) == Some(RaisedBy::Engine))
            .collect();
        assert_eq!(
            engine,
            ["field_changed", "responsible_changed", "task_status"]
        );
        assert_eq!(TriggerKind::raised_by("no_such_type"), None);
    }
}
