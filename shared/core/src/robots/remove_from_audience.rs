//! `remove_from_audience`: remove the item's client from an advertising
//! audience (the membership the item's `add_to_audience` made).

use super::audience_change;
use super::prelude::*;
use crate::audiences::AudienceOp;

/// `remove_from_audience`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveFromAudience {
    /// `facebook`, `google`, `vk`, `yandex` or `tiktok`.
    pub network: String,
    /// The audience of that network (1 to 100 of `A-Z a-z 0-9 _ - .`).
    pub audience_id: String,
}

impl RobotType for RemoveFromAudience {
    const GROUP: Group = Group::ClientCommunication;
    const DESCRIPTION: &'static str = "Remove the client from an advertising audience";

    fn check(&self, cx: &mut Check<'_>) {
        audience_change::check(cx, &self.network, &self.audience_id);
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        audience_change::perform(cx, AudienceOp::Remove, &self.network, &self.audience_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn network_and_audience_id_are_checked() {
        let ok = json!({"network": "tiktok", "audience_id": "retarget"});
        assert!(check("remove_from_audience", ok).0.is_empty());
        let (errors, _) = check(
            "remove_from_audience",
            json!({"network": "google", "audience_id": ""}),
        );
        assert_eq!(errors, ["settings.audience_id"]);
    }
}
