//! `add_timeline_comment`: a comment in the item's timeline.

use super::prelude::*;

/// `add_timeline_comment`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTimelineComment {
    pub text: Template,
    #[serde(default)]
    pub author_id: Option<String>,
}

impl RobotType for AddTimelineComment {
    const GROUP: Group = Group::ItemManagement;
    const DESCRIPTION: &'static str = "Add a comment to the item's timeline";

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.author_id", self.author_id.as_ref());
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let author = cx.user_or_responsible(self.author_id.as_deref()).await?;
        Ok(Effect::done(vec![cx.timeline(
            "comment",
            Some(author),
            cx.render(&self.text),
            Value::Null,
        )]))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn the_author_id_setting_is_looked_up_and_templates_checked() {
        let (errors, refs) = check("add_timeline_comment", json!({"text": "{{stage.name}}", "author_id": "u-boss"}));
        assert_eq!(errors, [] as [&str; 0]);
        assert_eq!(users(&refs), ["u-boss"]);
    }
}
