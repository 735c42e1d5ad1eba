//! `notify_supervisor`: a notification to the supervisor of the item's
//! responsible (or to the recipients named).

use super::prelude::*;

/// `notify_supervisor`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifySupervisor {
    pub text: Template,
    /// Explicit recipients; empty = the supervisor of the item's responsible.
    #[serde(default)]
    pub recipients: Vec<String>,
}

impl RobotType for NotifySupervisor {
    const GROUP: Group = Group::EmployeeControl;
    const DESCRIPTION: &'static str =
        "Notify the supervisor of the item's responsible (or the users named)";

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.users("settings.recipients", &self.recipients);
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let recipients = if self.recipients.is_empty() {
            vec![cx.resolve_user(SUPERVISOR).await?]
        } else {
            cx.resolve_users(&self.recipients, &[]).await?
        };
        cx.check_fanout(recipients.len())?;
        let text = cx.render(&self.text);
        Ok(Effect::done(cx.notify(&recipients, None, &text))
            .note(format!("notified {}", recipients.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn recipients_are_looked_up_except_the_special_values() {
        let (errors, refs) = check(
            "notify_supervisor",
            json!({"text": "{{title}} is stuck", "recipients": ["u-boss", "supervisor"]}),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(users(&refs), ["u-boss"]);
        let (errors, _) = check("notify_supervisor", json!({"text": "{{nope}}"}));
        assert_eq!(errors, ["settings.text"]);
    }
}
