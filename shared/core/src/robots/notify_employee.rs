//! `notify_employee`: a notification to the users and departments named.

use super::prelude::*;

/// `notify_employee`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyEmployee {
    pub text: Template,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub recipient_ids: Vec<String>,
    #[serde(default)]
    pub department_ids: Vec<String>,
    /// Departments reach their direct members only; by default (`false`) the
    /// members of every sub-department are included too (at most 16 levels
    /// and 200 departments, else the run fails with the reason).
    #[serde(default)]
    pub direct_members_only: bool,
}

impl RobotType for NotifyEmployee {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Notify employees or whole departments";

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.sender_id", self.sender_id.as_ref());
        cx.users("settings.recipient_ids", &self.recipient_ids);
        cx.departments("settings.department_ids", &self.department_ids);
        cx.require(
            !self.recipient_ids.is_empty() || !self.department_ids.is_empty(),
            "settings.recipient_ids",
            "name at least one recipient or department",
        );
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let departments = cx
            .department_tree(&self.department_ids, self.direct_members_only)
            .await?;
        let users = cx.resolve_users(&self.recipient_ids, &departments).await?;
        cx.check_fanout(users.len())?;
        let from = cx.opt_user(self.sender_id.as_deref()).await?;
        Ok(
            Effect::done(cx.notify(&users, from, &cx.render(&self.text)))
                .note(format!("notified {}", users.join(", "))),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn someone_must_be_notified() {
        let (errors, _) = check("notify_employee", json!({"text": "hi"}));
        assert_eq!(errors, ["settings.recipient_ids"]);
        let (errors, refs) = check(
            "notify_employee",
            json!({"text": "hi", "department_ids": ["design"]}),
        );
        assert!(errors.is_empty());
        assert_eq!(refs.departments[0].1, "design");
    }
}
