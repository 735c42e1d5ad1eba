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
