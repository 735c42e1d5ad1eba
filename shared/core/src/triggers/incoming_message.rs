//! `incoming_message`: the client wrote in a messenger, social network or
//! open channel (the event's `data.channel` names the network).

use serde::{Deserialize, Serialize};

use super::{EventFacts, TriggerType};
use crate::check::Check;
use crate::robots::message_client::NETWORKS;

/// `incoming_message`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomingMessage {
    /// Fire only for messages in this network (`telegram`, `whatsapp`,
    /// `vk`, `facebook`, `instagram`, `viber`, `openline`).
    #[serde(default)]
    pub channel: Option<String>,
}

impl TriggerType for IncomingMessage {
    const GROUP: crate::catalogue::Group = crate::catalogue::Group::ClientCommunication;
    const DESCRIPTION: &'static str = "The client wrote in a messenger or open channel";

    fn check(&self, cx: &mut Check<'_>) {
        if let Some(c) = &self.channel
            && !NETWORKS.contains(&c.as_str())
        {
            cx.err(
                "settings.channel",
                format!("must be one of {}", NETWORKS.join(", ")),
            );
        }
    }

    fn matches(&self, facts: &EventFacts<'_>) -> bool {
        match &self.channel {
            None => true,
            Some(c) => facts.str("channel") == Some(c.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_channel_filter_matches_the_event_network() {
        let data = json!({"channel": "whatsapp"});
        let facts = EventFacts {
            event_type: "incoming_message",
            data: &data,
            task: None,
        };
        assert!(IncomingMessage { channel: None }.matches(&facts));
        let wa = IncomingMessage {
            channel: Some("whatsapp".into()),
        };
        assert!(wa.matches(&facts));
        let tg = IncomingMessage {
            channel: Some("telegram".into()),
        };
        assert!(!tg.matches(&facts));
    }
}
