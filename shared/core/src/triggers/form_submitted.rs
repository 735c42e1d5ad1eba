//! `form_submitted`: the client filled in a web form.

use serde::{Deserialize, Serialize};

use super::{EventFacts, TriggerType};

/// `form_submitted`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormSubmitted {
    /// Fire only for this form.
    #[serde(default)]
    pub form_id: Option<String>,
}

impl TriggerType for FormSubmitted {
    const GROUP: crate::catalogue::Group = crate::catalogue::Group::ClientCommunication;
    const DESCRIPTION: &'static str = "The client submitted a web form";

    fn matches(&self, facts: &EventFacts<'_>) -> bool {
        match &self.form_id {
            None => true,
            Some(id) => facts.str("form_id") == Some(id.as_str()),
        }
    }
}
