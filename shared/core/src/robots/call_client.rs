//! `call_client`: a robocall to the item's client that says a programmed
//! text. The call goes out through the delivery port (the outbox, channel
//! `call`) after the run commits; its outcome comes back as an event
//! (`incoming_call` = answered, `missed_call`) naming the call by `call_id`.

use super::prelude::*;
use crate::model::{CallSpec, Channel, Outbound};

/// Longest text a call says (characters, after rendering).
pub const MAX_CALL_TEXT_CHARS: usize = 1000;
/// Most times a call says its text.
pub const MAX_REPEAT: u8 = 3;
/// The languages (BCP-47) the voices speak.
pub const LANGUAGES: &[&str] = &[
    "ru-RU", "en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "it-IT", "pl-PL", "pt-BR", "tr-TR",
    "uk-UA", "kk-KZ",
];
/// Longest voice name.
pub const MAX_VOICE_LEN: usize = 64;

fn default_language() -> String {
    "ru-RU".to_string()
}

fn default_repeat() -> u8 {
    1
}

/// `call_client`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallClient {
    /// What the call says (at most 1000 characters once rendered).
    pub text: Template,
    /// The language of the voice (BCP-47): `ru-RU`, `en-US`, `en-GB`,
    /// `de-DE`, `fr-FR`, `es-ES`, `it-IT`, `pl-PL`, `pt-BR`, `tr-TR`,
    /// `uk-UA`, `kk-KZ`.
    #[serde(default = "default_language")]
    pub language: String,
    /// A named voice of the telephony provider (letters, digits, `-`, `_`).
    #[serde(default)]
    pub voice: Option<String>,
    /// How many times the text is said: 1 to 3.
    #[serde(default = "default_repeat")]
    pub repeat: u8,
}

impl RobotType for CallClient {
    const GROUP: Group = Group::ClientCommunication;
    const DESCRIPTION: &'static str = "Call the client and say a text (robocall)";
    const OUTPUTS: &'static [&'static str] = &["call_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.require(
            !self.text.source().trim().is_empty(),
            "settings.text",
            "must not be empty",
        );
        if !LANGUAGES.contains(&self.language.as_str()) {
            cx.err(
                "settings.language",
                format!("must be one of {}", LANGUAGES.join(", ")),
            );
        }
        if let Some(v) = &self.voice {
            let ok = !v.is_empty()
                && v.len() <= MAX_VOICE_LEN
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            cx.require(
                ok,
                "settings.voice",
                "must be 1 to 64 letters, digits, '-' or '_'",
            );
        }
        cx.require(
            (1..=MAX_REPEAT).contains(&self.repeat),
            "settings.repeat",
            "must be 1, 2 or 3",
        );
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let Some(to) = cx.item.client.phone.clone().filter(|p| !p.is_empty()) else {
            return fail("the client has no phone");
        };
        let text = cx.render(&self.text);
        let chars = text.chars().count();
        if chars > MAX_CALL_TEXT_CHARS {
            return fail(format!(
                "the text to say is {chars} characters long; a call says at most {MAX_CALL_TEXT_CHARS}"
            ));
        }
        if text.trim().is_empty() {
            return fail("the text to say is empty");
        }
        let mut effect = cx.outbound(Outbound {
            to_client: true,
            call: Some(CallSpec {
                language: self.language.clone(),
                voice: self.voice.clone(),
                repeat: self.repeat,
            }),
            ..cx.message(Channel::Call, to, text)
        });
        // The outbound record's id is the call's id.
        let id = effect.outputs.remove("message_id").unwrap_or_default();
        effect.outputs.insert("call_id".to_string(), id);
        Ok(effect)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn settings_are_checked_field_by_field() {
        assert!(check("call_client", json!({"text": "Hello {{client.name}}"})).0.is_empty());
        let ok = json!({"text": "Hi", "language": "pl-PL", "voice": "alena", "repeat": 3});
        assert!(check("call_client", ok).0.is_empty());
        let (errors, _) = check(
            "call_client",
            json!({"text": "Hi {{client.nickname}}", "language": "xx-XX", "voice": "a b", "repeat": 4}),
        );
        assert_eq!(
            errors,
            [
                "settings.text",
                "settings.language",
                "settings.voice",
                "settings.repeat"
            ]
        );
        let (errors, _) = check("call_client", json!({"text": " ", "repeat": 0}));
        assert_eq!(errors, ["settings.text", "settings.repeat"]);
    }
}
