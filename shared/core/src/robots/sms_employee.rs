//! `sms_employee`: an SMS to an employee (default: the responsible).

use super::prelude::*;
use crate::model::{Channel, Outbound};

/// `sms_employee`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsEmployee {
    pub text: Template,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
}

impl RobotType for SmsEmployee {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Send an SMS to an employee";
    const OUTPUTS: &'static [&'static str] = &["message_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.user_id", self.user_id.as_ref());
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let to = cx
            .employee_contact(self.user_id.as_deref(), Channel::Sms)
            .await?;
        Ok(cx.outbound(Outbound {
            provider: self.provider.clone(),
            ..cx.message(Channel::Sms, to, cx.render(&self.text))
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn the_user_id_setting_is_looked_up_and_templates_checked() {
        let (errors, refs) = check("sms_employee", json!({"text": "{{title}}", "user_id": "u-boss"}));
        assert_eq!(errors, [] as [&str; 0]);
        assert_eq!(users(&refs), ["u-boss"]);
    }
}
