//! `email_client`: an email to the item's client (recorded in its timeline).

use super::prelude::*;
use crate::model::{Channel, Outbound};

/// `email_client`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailClient {
    #[serde(default)]
    pub subject: Option<Template>,
    pub text: Template,
    /// Documents to attach: templates rendering to document ids, e.g.
    /// `{{robot.<id>.document_id}}` of a `create_document` robot before it.
    #[serde(default)]
    pub attachments: Vec<Template>,
}

impl RobotType for EmailClient {
    const GROUP: Group = Group::ClientCommunication;
    const DESCRIPTION: &'static str = "Send an email to the client";
    const OUTPUTS: &'static [&'static str] = &["message_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        let mut v = Vec::new();
        if let Some(t) = &self.subject {
            v.push(("subject", t));
        }
        v.push(("text", &self.text));
        v.extend(self.attachments.iter().map(|t| ("attachments", t)));
        v
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let Some(to) = cx.item.client.email.clone() else {
            return fail("the client has no email");
        };
        let attachments = super::attachments::resolve(cx, &self.attachments).await?;
        let m = Outbound {
            attachments,
            from: Some(format!("sales@{}", cx.tenant)),
            subject: self.subject.as_ref().map(|t| cx.render(t)),
            to_client: true,
            ..cx.message(Channel::Email, to, cx.render(&self.text))
        };
        // A pixel and tracked links (HTML bodies, when the pipeline tracks).
        let m = cx.engine.tracked(cx.pipeline, m).await?;
        // Replies come back to the tenant's inbound address (when on).
        let m = cx.engine.with_reply_to(m).await?;
        Ok(cx.outbound(m))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn placeholders_must_be_known() {
        assert!(check("email_client", json!({"text": "Hello {{client.name}}"})).0.is_empty());
        let (errors, _) = check("email_client", json!({"text": "Hello {{client.nickname}}"}));
        assert_eq!(errors, ["settings.text"]);
    }
}
