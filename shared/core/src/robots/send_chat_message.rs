//! `send_chat_message`: a message in a chat.

use super::prelude::*;
use crate::model::{Chat, Message, MessageType};

/// `send_chat_message`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendChatMessage {
    pub chat_id: Template,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub message_type: MessageType,
    pub text: Template,
}

impl RobotType for SendChatMessage {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Send a message to a chat";
    const OUTPUTS: &'static [&'static str] = &["message_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("chat_id", &self.chat_id), ("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.sender_id", self.sender_id.as_ref());
        cx.require(
            !self.chat_id.source().trim().is_empty(),
            "settings.chat_id",
            "must not be empty",
        );
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let chat_id = cx.render(&self.chat_id);
        if cx
            .engine
            .load::<Chat>(cx.tenant, &chat_id)
            .await?
            .is_none()
        {
            return fail(format!("chat '{chat_id}' not found"));
        }
        let sender = cx.user_or_responsible(self.sender_id.as_deref()).await?;
        let m = Message {
            id: cx.id("msg"),
            chat_id: Some(chat_id.clone()),
            sender_id: sender,
            recipient_id: None,
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

    use crate::robots::check_tests::check;

    #[test]
    fn the_chat_must_be_named() {
        let (errors, _) = check("send_chat_message", json!({"chat_id": "", "text": "hi"}));
        assert_eq!(errors, ["settings.chat_id"]);
    }
}
