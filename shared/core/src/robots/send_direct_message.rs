//! `send_direct_message`: a direct message to one employee.

use super::prelude::*;
use crate::model::{Message, MessageType};

/// `send_direct_message`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendDirectMessage {
    #[serde(default)]
    pub sender_id: Option<String>,
    pub recipient_id: String,
    #[serde(default)]
    pub message_type: MessageType,
    pub text: Template,
}

impl RobotType for SendDirectMessage {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Send a direct message to an employee";
    const OUTPUTS: &'static [&'static str] = &["message_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.sender_id", self.sender_id.as_ref());
        cx.user("settings.recipient_id", &self.recipient_id);
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let sender = cx.user_or_responsible(self.sender_id.as_deref()).await?;
        let to = cx.resolve_user(&self.recipient_id).await?;
        let m = Message {
            id: cx.id("msg"),
            chat_id: None,
            sender_id: sender,
            recipient_id: Some(to.clone()),
            message_type: self.message_type,
            text: cx.render(&self.text),
            item_id: Some(cx.item.id.clone()),
            at: cx.now,
        };
        Ok(Effect::done(vec![put(
            record_doc(cx.tenant, &m, 1),
            Cond::Any,
        )])
        .output("message_id", m.id))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn sender_and_recipient_are_looked_up() {
        let (errors, refs) = check(
            "send_direct_message",
            json!({"sender_id": "u-boss", "recipient_id": "u-anna", "text": "hi"}),
        );
        assert!(errors.is_empty());
        assert_eq!(users(&refs), ["u-boss", "u-anna"]);
    }
}
