//! `delete_item`: deletes the item (its pending robots are cancelled).

use super::prelude::*;

/// `delete_item`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteItem {}

impl RobotType for DeleteItem {
    const GROUP: Group = Group::ItemManagement;
    const DESCRIPTION: &'static str = "Delete the item";

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let writes = cx
            .engine
            .delete_writes(cx.tenant, cx.item, cx.now, None, cx.run.chain.clone());
        Ok(Effect {
            writes_item: true,
            ..Effect::done(writes)
        }
        .note("deleted the item"))
    }
}
