//! `plan_activity`: a call, meeting or to-do in the item's activities.

use super::prelude::*;
use crate::delay::Duration;
use crate::engine::Engine;
use crate::model::{Activity, ActivityType};

/// `plan_activity`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanActivity {
    pub description: Template,
    #[serde(default)]
    pub activity_type: ActivityType,
    /// Default: due at once.
    #[serde(default)]
    pub deadline: Option<Duration>,
    #[serde(default)]
    pub respect_working_hours: bool,
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub add_to_calendar: bool,
    #[serde(default)]
    pub invited_user_ids: Vec<String>,
    #[serde(default)]
    pub address: Option<Template>,
    #[serde(default)]
    pub location: Option<Template>,
    #[serde(default)]
    pub link: Option<Template>,
    #[serde(default = "yes")]
    pub auto_complete: bool,
}

impl RobotType for PlanActivity {
    const GROUP: Group = Group::EmployeeControl;
    const DESCRIPTION: &'static str = "Plan an activity (call, meeting, to-do) for the item";
    const OUTPUTS: &'static [&'static str] = &["activity_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        let mut v = vec![("description", &self.description)];
        for (k, t) in [
            ("address", &self.address),
            ("location", &self.location),
            ("link", &self.link),
        ] {
            if let Some(t) = t {
                v.push((k, t));
            }
        }
        v
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.responsible_id", self.responsible_id.as_ref());
        cx.users("settings.invited_user_ids", &self.invited_user_ids);
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let (item, now) = (cx.item, cx.now);
        let responsible = cx
            .user_or_responsible(self.responsible_id.as_deref())
            .await?;
        let invited = cx.resolve_users(&self.invited_user_ids, &[]).await?;
        let cal = if self.respect_working_hours {
            cx.engine
                .user(cx.tenant, &responsible)
                .await?
                .as_ref()
                .and_then(Engine::calendar)
        } else {
            None
        };
        let deadline = match self.deadline {
            Some(d) => d.add_to(now, cal.as_ref()),
            None => cal.as_ref().map_or(now, |c| c.next_working_instant(now)),
        };
        let render = |t: &Option<Template>| t.as_ref().map(|t| cx.render(t));
        let a = Activity {
            id: cx.id("act"),
            item_id: item.id.clone(),
            stage_id: cx.robot.stage_id.clone(),
            visit: cx.run.visit,
            robot_id: cx.robot.id.clone(),
            description: cx.render(&self.description),
            activity_type: self.activity_type,
            responsible_id: responsible,
            deadline,
            color: self.color.clone(),
            add_to_calendar: self.add_to_calendar,
            invited_user_ids: invited,
            address: render(&self.address),
            location: render(&self.location),
            link: render(&self.link),
            auto_complete: self.auto_complete,
            completed: false,
            created_at: now,
            completed_at: None,
        };
        let mut writes = crate::user_work::activity_writes(cx.tenant, &a);
        writes.push(cx.timeline(
                "activity_planned",
                None,
                format!(
                    "Activity planned: {} (due {})",
                    a.description,
                    a.deadline.to_rfc3339()
                ),
                serde_json::json!({"activity_id": a.id, "deadline": a.deadline}),
        ));
        Ok(Effect::done(writes)
        .output("activity_id", a.id))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn the_responsible_id_setting_is_looked_up_and_templates_checked() {
        let (errors, refs) = check("plan_activity", json!({"description": "Call {{client.name}}", "responsible_id": "u-boss", "link": "{{nope}}"}));
        assert_eq!(errors, ["settings.link"]);
        assert_eq!(users(&refs), ["u-boss"]);
    }
}
