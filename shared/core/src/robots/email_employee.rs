//! `email_employee`: an email to an employee (default: the responsible).

use super::prelude::*;
use crate::model::{Channel, Outbound};

/// `email_employee`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailEmployee {
    /// Sender address; default `robot@<tenant>`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to_user_id: Option<String>,
    pub subject: Template,
    pub body: Template,
    /// Documents to attach: templates rendering to document ids, e.g.
    /// `{{robot.<id>.document_id}}` of a `create_document` robot before it.
    #[serde(default)]
    pub attachments: Vec<Template>,
}

impl RobotType for EmailEmployee {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Send an email to an employee";
    const OUTPUTS: &'static [&'static str] = &["message_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        let mut v = vec![("subject", &self.subject), ("body", &self.body)];
        v.extend(self.attachments.iter().map(|t| ("attachments", t)));
        v
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.to_user_id", self.to_user_id.as_ref());
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let to = cx
            .employee_contact(self.to_user_id.as_deref(), Channel::Email)
            .await?;
        let from = self
            .from
            .clone()
            .unwrap_or_else(|| format!("robot@{}", cx.tenant));
        let attachments = super::attachments::resolve(cx, &self.attachments).await?;
        Ok(cx.outbound(Outbound {
            attachments,
            from: Some(from),
            subject: Some(cx.render(&self.subject)),
            ..cx.message(Channel::Email, to, cx.render(&self.body))
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn the_to_user_id_setting_is_looked_up_and_templates_checked() {
        let (errors, refs) = check("email_employee", json!({"subject": "{{title}}", "body": "{{amount}}", "to_user_id": "u-boss"}));
        assert_eq!(errors, [] as [&str; 0]);
        assert_eq!(users(&refs), ["u-boss"]);
    }
}
