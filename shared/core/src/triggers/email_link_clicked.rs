//! `email_link_clicked`: the client clicked a link in an email.

use serde::{Deserialize, Serialize};

use super::{EventFacts, TriggerType};

/// `email_link_clicked`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailLinkClicked {
    /// Fire only when the clicked URL contains this text.
    #[serde(default)]
    pub url_contains: Option<String>,
}

impl TriggerType for EmailLinkClicked {
    const GROUP: crate::catalogue::Group = crate::catalogue::Group::ClientCommunication;
    const DESCRIPTION: &'static str = "The client clicked a link in an email";

    fn matches(&self, facts: &EventFacts<'_>) -> bool {
        match &self.url_contains {
            None => true,
            Some(part) => facts.str("url").is_some_and(|u| u.contains(part.as_str())),
        }
    }
}
