//! `add_to_audience`: add the item's client to an advertising audience, by
//! its phone and email normalised and SHA-256-hashed (never the raw values).

use super::audience_change;
use super::prelude::*;
use crate::audiences::AudienceOp;

/// `add_to_audience`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddToAudience {
    /// `facebook`, `google`, `vk`, `yandex` or `tiktok`.
    pub network: String,
    /// The audience of that network (1 to 100 of `A-Z a-z 0-9 _ - .`).
    pub audience_id: String,
}

impl RobotType for AddToAudience {
    const GROUP: Group = Group::ClientCommunication;
    const DESCRIPTION: &'static str = "Add the client to an advertising audience (hashed contacts)";

    fn check(&self, cx: &mut Check<'_>) {
        audience_change::check(cx, &self.network, &self.audience_id);
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        audience_change::perform(cx, AudienceOp::Add, &self.network, &self.audience_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn network_and_audience_id_are_checked() {
        let ok = json!({"network": "facebook", "audience_id": "aud-1"});
        assert!(check("add_to_audience", ok).0.is_empty());
        let (errors, _) = check(
            "add_to_audience",
            json!({"network": "myspace", "audience_id": "a/b"}),
        );
        assert_eq!(errors, ["settings.network", "settings.audience_id"]);
        let long = "x".repeat(101);
        let (errors, _) = check(
            "add_to_audience",
            json!({"network": "vk", "audience_id": long}),
        );
        assert_eq!(errors, ["settings.audience_id"]);
    }
}
