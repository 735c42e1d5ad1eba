//! `message_client`: a reply to the item's client in a messenger, social
//! network or open channel. The message goes out through the delivery port
//! (the outbox, channel `messenger`, with the network recorded) after the
//! run commits. The client's answer comes back as an `incoming_message`
//! event.

use super::prelude::*;
use crate::model::{Channel, Client, Outbound};

/// The networks a message can go to.
pub const NETWORKS: &[&str] = &[
    "telegram",
    "whatsapp",
    "vk",
    "facebook",
    "instagram",
    "viber",
    "openline",
];
/// Networks whose address is a phone number: without a handle of the
/// network, the message goes to the client's phone.
const BY_PHONE: &[&str] = &["whatsapp", "viber"];
/// Longest message (characters, after rendering).
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Longest messenger handle of a client.
pub const MAX_HANDLE_LEN: usize = 100;

/// `message_client`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageClient {
    /// `telegram`, `whatsapp`, `vk`, `facebook`, `instagram`, `viber` or
    /// `openline`.
    pub channel: String,
    /// The message (at most 4096 characters once rendered).
    pub text: Template,
}

/// Where a message on `network` reaches the client, if anywhere.
pub fn address(client: &Client, network: &str) -> Option<String> {
    let handle = client
        .messengers
        .get(network)
        .filter(|h| !h.trim().is_empty());
    match handle {
        Some(h) => Some(h.clone()),
        None if BY_PHONE.contains(&network) => client.phone.clone().filter(|p| !p.is_empty()),
        None => None,
    }
}

/// Problems with a client's `messengers` map: (key path, message).
pub fn check_messengers(
    prefix: &str,
    messengers: &std::collections::BTreeMap<String, String>,
) -> Option<(String, String)> {
    for (network, handle) in messengers {
        let field = format!("{prefix}messengers.{network}");
        if !NETWORKS.contains(&network.as_str()) {
            return Some((field, format!("unknown network; one of {}", NETWORKS.join(", "))));
        }
        if handle.trim().is_empty() || handle.chars().count() > MAX_HANDLE_LEN {
            return Some((field, format!("must be 1 to {MAX_HANDLE_LEN} characters")));
        }
        if handle.chars().any(char::is_control) {
            return Some((field, "must not contain control characters".to_string()));
        }
    }
    None
}

impl RobotType for MessageClient {
    const GROUP: Group = Group::ClientCommunication;
    const DESCRIPTION: &'static str = "Reply to the client in a messenger or open channel";
    const OUTPUTS: &'static [&'static str] = &["message_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        if !NETWORKS.contains(&self.channel.as_str()) {
            cx.err(
                "settings.channel",
                format!("must be one of {}", NETWORKS.join(", ")),
            );
        }
        cx.require(
            !self.text.source().trim().is_empty(),
            "settings.text",
            "must not be empty",
        );
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let Some(to) = address(&cx.item.client, &self.channel) else {
            return fail(format!("the client has no {} contact", self.channel));
        };
        let text = cx.render(&self.text);
        let chars = text.chars().count();
        if chars > MAX_MESSAGE_CHARS {
            return fail(format!(
                "the message is {chars} characters long; at most {MAX_MESSAGE_CHARS}"
            ));
        }
        if text.trim().is_empty() {
            return fail("the message is empty");
        }
        Ok(cx.outbound(Outbound {
            to_client: true,
            network: Some(self.channel.clone()),
            ..cx.message(Channel::Messenger, to, text)
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::robots::check_tests::check;

    #[test]
    fn the_channel_must_be_a_known_network_and_the_text_not_empty() {
        let ok = json!({"channel": "whatsapp", "text": "Hello {{client.name}}"});
        assert!(check("message_client", ok).0.is_empty());
        let (errors, _) = check(
            "message_client",
            json!({"channel": "icq", "text": "{{client.nickname}}"}),
        );
        assert_eq!(errors, ["settings.text", "settings.channel"]);
        let (errors, _) = check("message_client", json!({"channel": "vk", "text": ""}));
        assert_eq!(errors, ["settings.text"]);
    }

    #[test]
    fn phone_networks_fall_back_to_the_phone_others_need_a_handle() {
        let mut c = Client {
            phone: Some("+7 900 000-00-01".into()),
            ..Client::default()
        };
        assert_eq!(address(&c, "whatsapp").as_deref(), Some("+7 900 000-00-01"));
        assert_eq!(address(&c, "telegram"), None);
        c.messengers.insert("telegram".into(), "@romashka".into());
        assert_eq!(address(&c, "telegram").as_deref(), Some("@romashka"));
    }

    #[test]
    fn messenger_maps_are_checked_by_key() {
        let mut m = BTreeMap::new();
        m.insert("telegram".to_string(), "@ok".to_string());
        assert_eq!(check_messengers("client.", &m), None);
        m.insert("icq".to_string(), "1".to_string());
        assert_eq!(
            check_messengers("client.", &m).map(|e| e.0).as_deref(),
            Some("client.messengers.icq")
        );
        m.remove("icq");
        m.insert("vk".to_string(), "x".repeat(101));
        assert_eq!(
            check_messengers("client.", &m).map(|e| e.0).as_deref(),
            Some("client.messengers.vk")
        );
    }
}
