//! `add_feed_post`: a post in the company feed.

use super::prelude::*;
use crate::model::FeedPost;

/// `add_feed_post`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddFeedPost {
    #[serde(default = "empty_template")]
    pub subject: Template,
    pub text: Template,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub recipient_ids: Vec<String>,
    /// Departments the post is addressed to; the stored post lists them
    /// with their sub-departments unless `direct_members_only`.
    #[serde(default)]
    pub department_ids: Vec<String>,
    /// Departments reach their direct members only; by default (`false`)
    /// every sub-department is reached too (at most 16 levels and 200
    /// departments, else the run fails with the reason).
    #[serde(default)]
    pub direct_members_only: bool,
    #[serde(default)]
    pub everyone: bool,
    #[serde(default)]
    pub tag: Option<String>,
}

impl RobotType for AddFeedPost {
    const GROUP: Group = Group::EmployeeAlerts;
    const DESCRIPTION: &'static str = "Post a message to the company feed";
    const OUTPUTS: &'static [&'static str] = &["post_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("subject", &self.subject), ("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.sender_id", self.sender_id.as_ref());
        cx.users("settings.recipient_ids", &self.recipient_ids);
        cx.departments("settings.department_ids", &self.department_ids);
        cx.require(
            self.everyone || !self.recipient_ids.is_empty() || !self.department_ids.is_empty(),
            "settings.recipient_ids",
            "name recipients, departments or set everyone",
        );
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let sender = cx.user_or_responsible(self.sender_id.as_deref()).await?;
        let recipients = cx.resolve_users(&self.recipient_ids, &[]).await?;
        let departments = cx
            .department_tree(&self.department_ids, self.direct_members_only)
            .await?;
        let post = FeedPost {
            id: cx.id("post"),
            subject: cx.render(&self.subject),
            text: cx.render(&self.text),
            sender_id: sender,
            recipient_ids: recipients,
            department_ids: departments,
            everyone: self.everyone,
            tag: self.tag.clone(),
            item_id: Some(cx.item.id.clone()),
            at: cx.now,
        };
        Ok(Effect::done(vec![put(
            record_doc(cx.tenant, &post, 1),
            Cond::Any,
        )])
        .output("post_id", post.id))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn a_post_needs_an_audience_or_everyone() {
        let (errors, _) = check("add_feed_post", json!({"text": "Won {{title}}"}));
        assert_eq!(errors, ["settings.recipient_ids"]);
        let (errors, _) = check(
            "add_feed_post",
            json!({"text": "Won {{title}}", "everyone": true}),
        );
        assert!(errors.is_empty());
    }
}
