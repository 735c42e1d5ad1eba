//! `sms_client`: an SMS to the item's client (recorded in its timeline).

use super::prelude::*;
use crate::model::{Channel, Outbound};

/// `sms_client`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsClient {
    pub text: Template,
    #[serde(default)]
    pub provider: Option<String>,
}

impl RobotType for SmsClient {
    const GROUP: Group = Group::ClientCommunication;
    const DESCRIPTION: &'static str = "Send an SMS to the client";
    const OUTPUTS: &'static [&'static str] = &["message_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let Some(to) = cx.item.client.phone.clone() else {
            return fail("the client has no phone");
        };
        Ok(cx.outbound(Outbound {
            provider: self.provider.clone(),
            to_client: true,
            ..cx.message(Channel::Sms, to, cx.render(&self.text))
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn placeholders_must_be_known() {
        assert!(check("sms_client", json!({"text": "Hello {{client.name}}"})).0.is_empty());
        let (errors, _) = check("sms_client", json!({"text": "Hello {{client.nickname}}"}));
        assert_eq!(errors, ["settings.text"]);
    }
}
