//! `change_stage`: moves the item to another stage (an automatic move:
//! counted by loop protection).

use super::prelude::*;

/// `change_stage`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStage {
    pub stage_id: String,
}

impl RobotType for ChangeStage {
    const GROUP: Group = Group::ItemManagement;
    const DESCRIPTION: &'static str = "Move the item to another stage";

    fn check(&self, cx: &mut Check<'_>) {
        cx.stage("settings.stage_id", &self.stage_id);
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        if self.stage_id == cx.item.stage_id {
            return Ok(Effect::done(Vec::new()).note("the item is in that stage already"));
        }
        let Some(chain) = cx.next_hop() else {
            return Ok(cx.loop_stopped(&self.stage_id));
        };
        let mut moved = cx.item.clone();
        moved.chain = chain;
        let mut timeline = Vec::new();
        let mv = cx.engine.apply_move(
            cx.pipeline,
            &mut moved,
            &self.stage_id,
            cx.now,
            None,
            &mut timeline,
        );
        Ok(cx
            .item_effect(moved, Some(mv), Vec::new(), timeline)
            .note(format!("moved the item to '{}'", self.stage_id)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn the_stage_must_be_in_the_pipeline() {
        assert!(check("change_stage", json!({"stage_id": "won"})).0.is_empty());
        let (errors, _) = check("change_stage", json!({"stage_id": "lost"}));
        assert_eq!(errors, ["settings.stage_id"]);
    }
}
