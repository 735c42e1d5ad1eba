//! `webhook`: an external system called with the trigger's code.

use serde::{Deserialize, Serialize};

use super::{EventFacts, TriggerType};
use crate::check::Check;

/// `webhook`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// The code external systems send in `data.code`.
    pub code: String,
}

impl TriggerType for Webhook {
    const GROUP: crate::catalogue::Group = crate::catalogue::Group::Integrations;
    const DESCRIPTION: &'static str = "An external system sent an event with this code";

    fn check(&self, cx: &mut Check<'_>) {
        cx.require(
            !self.code.trim().is_empty(),
            "settings.code",
            "must not be empty",
        );
    }

    fn matches(&self, facts: &EventFacts<'_>) -> bool {
        facts.str("code") == Some(self.code.as_str())
    }
}
