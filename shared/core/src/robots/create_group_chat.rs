//! `create_group_chat`: a chat of the members named (and departments).

use super::prelude::*;
use crate::model::Chat;

/// `create_group_chat`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupChat {
    pub name: Template,
    #[serde(default)]
    pub member_ids: Vec<String>,
    #[serde(default)]
    pub department_ids: Vec<String>,
    /// Departments reach their direct members only; by default (`false`) the
    /// members of every sub-department are included too (at most 16 levels
    /// and 200 departments, else the run fails with the reason).
    #[serde(default)]
    pub direct_members_only: bool,
}

impl RobotType for CreateGroupChat {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Create a group chat";
    const OUTPUTS: &'static [&'static str] = &["chat_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("name", &self.name)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.users("settings.member_ids", &self.member_ids);
        cx.departments("settings.department_ids", &self.department_ids);
        cx.require(
            !self.department_ids.is_empty() || self.member_ids.len() >= 2,
            "settings.member_ids",
            "a group chat needs at least two members",
        );
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let departments = cx
            .department_tree(&self.department_ids, self.direct_members_only)
            .await?;
        let members = cx.resolve_users(&self.member_ids, &departments).await?;
        if members.len() < 2 {
            return fail(format!(
                "a group chat needs at least two members, found {}",
                members.len()
            ));
        }
        let chat = Chat {
            id: cx.id("chat"),
            name: cx.render(&self.name),
            member_ids: members,
            history_hidden_for: Vec::new(),
            item_id: Some(cx.item.id.clone()),
            created_at: cx.now,
            version: 1,
        };
        Ok(Effect::done(vec![put(
            record_doc(cx.tenant, &chat, 1),
            Cond::Any,
        )])
        .output("chat_id", chat.id))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn a_group_chat_needs_two_members_or_a_department() {
        let (errors, _) = check("create_group_chat", json!({"name": "x", "member_ids": ["u-anna"]}));
        assert_eq!(errors, ["settings.member_ids"]);
        let (errors, _) = check(
            "create_group_chat",
            json!({"name": "x", "member_ids": ["u-anna"], "department_ids": ["design"]}),
        );
        assert!(errors.is_empty());
    }
}
