//! `add_history_record`: an `info` entry in the item's timeline.

use super::prelude::*;

/// `add_history_record`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddHistoryRecord {
    pub text: Template,
    #[serde(default)]
    pub author_id: Option<String>,
}

impl RobotType for AddHistoryRecord {
    const GROUP: Group = Group::ItemManagement;
    const DESCRIPTION: &'static str = "Add a record to the item's history";

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("text", &self.text)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.author_id", self.author_id.as_ref());
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let author = cx.opt_user(self.author_id.as_deref()).await?;
        Ok(Effect::done(vec![cx.timeline(
            "info",
            author,
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
        let (errors, refs) = check("add_history_record", json!({"text": "{{stage.name}}", "author_id": "u-boss"}));
        assert_eq!(errors, [] as [&str; 0]);
        assert_eq!(users(&refs), ["u-boss"]);
    }
}
