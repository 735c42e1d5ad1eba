//! `add_chat_members`: adds users to a chat (usually one an earlier robot made).

use super::prelude::*;
use crate::model::Chat;

/// `add_chat_members`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddChatMembers {
    pub chat_id: Template,
    pub user_ids: Vec<String>,
    #[serde(default = "yes")]
    pub show_history: bool,
}

impl RobotType for AddChatMembers {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Add users to a chat";

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("chat_id", &self.chat_id)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.users("settings.user_ids", &self.user_ids);
        cx.require(
            !self.user_ids.is_empty(),
            "settings.user_ids",
            "name at least one user",
        );
        cx.require(
            !self.chat_id.source().trim().is_empty(),
            "settings.chat_id",
            "must not be empty",
        );
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let chat_id = cx.render(&self.chat_id);
        let Some((mut chat, v)) = cx.engine.load::<Chat>(cx.tenant, &chat_id).await?
        else {
            return fail(format!("chat '{chat_id}' not found"));
        };
        let users = cx.resolve_users(&self.user_ids, &[]).await?;
        let mut added = Vec::new();
        for u in users {
            if !chat.member_ids.contains(&u) {
                chat.member_ids.push(u.clone());
                if !self.show_history {
                    chat.history_hidden_for.push(u.clone());
                }
                added.push(u);
            }
        }
        if added.is_empty() {
            return Ok(Effect::done(Vec::new()).note("everyone was a member already"));
        }
        chat.version = v + 1;
        Ok(Effect::done(vec![put(
            record_doc(cx.tenant, &chat, chat.version),
            Cond::Version(v),
        )])
        .note(format!("added {}", added.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn a_chat_and_a_user_must_be_named() {
        let (errors, _) = check("add_chat_members", json!({"chat_id": " ", "user_ids": []}));
        assert_eq!(errors, ["settings.user_ids", "settings.chat_id"]);
    }
}
