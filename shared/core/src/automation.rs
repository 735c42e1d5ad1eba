//! Robots and triggers: their common settings and the typed settings of every
//! type in the catalogue (SPEC.md §2–3, API.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::condition::Condition;
use crate::delay::{Delay, Duration};
use crate::model::{ActivityType, MessageType, TaskStatus};
use crate::template::Template;

fn yes() -> bool {
    true
}

fn empty_template() -> Template {
    Template::default()
}

/// A robot: an action on one stage of one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Robot {
    pub id: String,
    pub pipeline_id: String,
    pub stage_id: String,
    /// Position among the robots of the pipeline (creation order).
    pub order: u64,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
    pub delay: Delay,
    pub respect_working_hours: bool,
    pub condition: Option<Condition>,
    pub after_previous: bool,
}

/// The action of a robot with its settings: `{"type": "...", "settings": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "settings", rename_all = "snake_case")]
pub enum Action {
    NotifySupervisor(NotifySupervisor),
    AddHistoryRecord(AddHistoryRecord),
    CreateTask(CreateTask),
    CompleteTask(CompleteTask),
    PlanActivity(PlanActivity),
    NotifyEmployee(NotifyEmployee),
    AddTimelineComment(AddTimelineComment),
    AddFeedPost(AddFeedPost),
    CreateGroupChat(CreateGroupChat),
    AddChatMembers(AddChatMembers),
    SendChatMessage(SendChatMessage),
    SendDirectMessage(SendDirectMessage),
    EmailEmployee(EmailEmployee),
    SmsEmployee(SmsEmployee),
    ModifyItem(ModifyItem),
    ChangeStage(ChangeStage),
    ChangeResponsible(ChangeResponsible),
    CopyItem(CopyItem),
    DeleteItem(DeleteItem),
    EmailClient(EmailClient),
    SmsClient(SmsClient),
}

/// The robot types, in catalogue order.
pub const ROBOT_TYPES: [&str; 21] = [
    "notify_supervisor",
    "add_history_record",
    "create_task",
    "complete_task",
    "plan_activity",
    "notify_employee",
    "add_timeline_comment",
    "add_feed_post",
    "create_group_chat",
    "add_chat_members",
    "send_chat_message",
    "send_direct_message",
    "email_employee",
    "sms_employee",
    "modify_item",
    "change_stage",
    "change_responsible",
    "copy_item",
    "delete_item",
    "email_client",
    "sms_client",
];

impl Action {
    /// The API name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::NotifySupervisor(_) => "notify_supervisor",
            Action::AddHistoryRecord(_) => "add_history_record",
            Action::CreateTask(_) => "create_task",
            Action::CompleteTask(_) => "complete_task",
            Action::PlanActivity(_) => "plan_activity",
            Action::NotifyEmployee(_) => "notify_employee",
            Action::AddTimelineComment(_) => "add_timeline_comment",
            Action::AddFeedPost(_) => "add_feed_post",
            Action::CreateGroupChat(_) => "create_group_chat",
            Action::AddChatMembers(_) => "add_chat_members",
            Action::SendChatMessage(_) => "send_chat_message",
            Action::SendDirectMessage(_) => "send_direct_message",
            Action::EmailEmployee(_) => "email_employee",
            Action::SmsEmployee(_) => "sms_employee",
            Action::ModifyItem(_) => "modify_item",
            Action::ChangeStage(_) => "change_stage",
            Action::ChangeResponsible(_) => "change_responsible",
            Action::CopyItem(_) => "copy_item",
            Action::DeleteItem(_) => "delete_item",
            Action::EmailClient(_) => "email_client",
            Action::SmsClient(_) => "sms_client",
        }
    }

    /// The outputs a robot of this type produces (usable as `{{robot.<id>.<output>}}`).
    pub fn outputs(&self) -> &'static [&'static str] {
        match self {
            Action::CreateTask(_) => &["task_id"],
            Action::PlanActivity(_) => &["activity_id"],
            Action::AddFeedPost(_) => &["post_id"],
            Action::CreateGroupChat(_) => &["chat_id"],
            Action::SendChatMessage(_)
            | Action::SendDirectMessage(_)
            | Action::EmailEmployee(_)
            | Action::SmsEmployee(_)
            | Action::EmailClient(_)
            | Action::SmsClient(_) => &["message_id"],
            Action::CopyItem(_) => &["item_id"],
            _ => &[],
        }
    }

    /// Every template of the settings, with the settings key it sits under.
    pub fn templates(&self) -> Vec<(&'static str, &Template)> {
        let mut v: Vec<(&'static str, &Template)> = Vec::new();
        match self {
            Action::NotifySupervisor(s) => v.push(("text", &s.text)),
            Action::AddHistoryRecord(s) => v.push(("text", &s.text)),
            Action::CreateTask(s) => {
                v.push(("title", &s.title));
                v.push(("description", &s.description));
            }
            Action::CompleteTask(_) => {}
            Action::PlanActivity(s) => {
                v.push(("description", &s.description));
                for (k, t) in [
                    ("address", &s.address),
                    ("location", &s.location),
                    ("link", &s.link),
                ] {
                    if let Some(t) = t {
                        v.push((k, t));
                    }
                }
            }
            Action::NotifyEmployee(s) => v.push(("text", &s.text)),
            Action::AddTimelineComment(s) => v.push(("text", &s.text)),
            Action::AddFeedPost(s) => {
                v.push(("subject", &s.subject));
                v.push(("text", &s.text));
            }
            Action::CreateGroupChat(s) => v.push(("name", &s.name)),
            Action::AddChatMembers(s) => v.push(("chat_id", &s.chat_id)),
            Action::SendChatMessage(s) => {
                v.push(("chat_id", &s.chat_id));
                v.push(("text", &s.text));
            }
            Action::SendDirectMessage(s) => v.push(("text", &s.text)),
            Action::EmailEmployee(s) => {
                v.push(("subject", &s.subject));
                v.push(("body", &s.body));
            }
            Action::SmsEmployee(s) => v.push(("text", &s.text)),
            Action::ModifyItem(_) => {}
            Action::ChangeStage(_) | Action::ChangeResponsible(_) => {}
            Action::CopyItem(_) | Action::DeleteItem(_) => {}
            Action::EmailClient(s) => {
                if let Some(t) = &s.subject {
                    v.push(("subject", t));
                }
                v.push(("text", &s.text));
            }
            Action::SmsClient(s) => v.push(("text", &s.text)),
        }
        v
    }
}

/// `notify_supervisor`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySupervisor {
    pub text: Template,
    /// Explicit recipients; empty = the supervisor of the item's responsible.
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// `add_history_record`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddHistoryRecord {
    pub text: Template,
    #[serde(default)]
    pub author_id: Option<String>,
}

/// `create_task`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    pub title: Template,
    #[serde(default = "empty_template")]
    pub description: Template,
    /// Default: the item's responsible.
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub deadline: Option<Duration>,
    #[serde(default)]
    pub accomplice_ids: Vec<String>,
    #[serde(default)]
    pub auditor_ids: Vec<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub time_tracking: bool,
}

/// `complete_task`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteTask {
    /// Default: the item's pipeline.
    #[serde(default)]
    pub pipeline_id: Option<String>,
    pub stage_ids: Vec<String>,
}

/// `plan_activity`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// `notify_employee`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyEmployee {
    pub text: Template,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub recipient_ids: Vec<String>,
    #[serde(default)]
    pub department_ids: Vec<String>,
}

/// `add_timeline_comment`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTimelineComment {
    pub text: Template,
    #[serde(default)]
    pub author_id: Option<String>,
}

/// `add_feed_post`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddFeedPost {
    #[serde(default = "empty_template")]
    pub subject: Template,
    pub text: Template,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub recipient_ids: Vec<String>,
    #[serde(default)]
    pub department_ids: Vec<String>,
    #[serde(default)]
    pub everyone: bool,
    #[serde(default)]
    pub tag: Option<String>,
}

/// `create_group_chat`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupChat {
    pub name: Template,
    #[serde(default)]
    pub member_ids: Vec<String>,
    #[serde(default)]
    pub department_ids: Vec<String>,
}

/// `add_chat_members`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddChatMembers {
    pub chat_id: Template,
    pub user_ids: Vec<String>,
    #[serde(default = "yes")]
    pub show_history: bool,
}

/// `send_chat_message`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendChatMessage {
    pub chat_id: Template,
    #[serde(default)]
    pub sender_id: Option<String>,
    #[serde(default)]
    pub message_type: MessageType,
    pub text: Template,
}

/// `send_direct_message`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendDirectMessage {
    #[serde(default)]
    pub sender_id: Option<String>,
    pub recipient_id: String,
    #[serde(default)]
    pub message_type: MessageType,
    pub text: Template,
}

/// `email_employee`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailEmployee {
    /// Sender address; default `robot@<tenant>`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to_user_id: Option<String>,
    pub subject: Template,
    pub body: Template,
}

/// `sms_employee`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsEmployee {
    pub text: Template,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
}

/// `modify_item`: field path → value. String values are templates (a value that
/// is exactly one placeholder keeps its type); other JSON values are set as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyItem {
    pub fields: BTreeMap<String, Value>,
}

/// `change_stage`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStage {
    pub stage_id: String,
}

/// How `change_responsible` picks among several users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotateMode {
    #[default]
    First,
    Rotate,
}

/// `change_responsible`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeResponsible {
    pub user_ids: Vec<String>,
    #[serde(default)]
    pub mode: RotateMode,
}

/// `copy_item`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyItem {
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub stage_id: Option<String>,
}

/// `delete_item`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteItem {}

/// `email_client`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailClient {
    #[serde(default)]
    pub subject: Option<Template>,
    pub text: Template,
}

/// `sms_client`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsClient {
    pub text: Template,
    #[serde(default)]
    pub provider: Option<String>,
}

/// A trigger: pulls an item into its stage when its event happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub id: String,
    pub pipeline_id: String,
    pub stage_id: String,
    pub order: u64,
    pub name: String,
    #[serde(flatten)]
    pub kind: TriggerKind,
    pub condition: Option<Condition>,
    /// Author of the stage change; default the item's responsible.
    pub execute_as: Option<String>,
    pub allow_backwards: bool,
}

/// The event of a trigger with its settings: `{"type": "...", "settings": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "settings", rename_all = "snake_case")]
pub enum TriggerKind {
    EmailRead(NoSettings),
    EmailLinkClicked(LinkClicked),
    IncomingEmail(NoSettings),
    IncomingCall(NoSettings),
    MissedCall(NoSettings),
    FormSubmitted(FormSubmitted),
    SiteVisit(NoSettings),
    ClientReturned(NoSettings),
    InvoicePaid(NoSettings),
    FieldChanged(FieldChanged),
    ResponsibleChanged(NoSettings),
    TaskStatus(TaskStatusTrigger),
    Webhook(Webhook),
}

/// The event types, in catalogue order.
pub const TRIGGER_TYPES: [&str; 13] = [
    "email_read",
    "email_link_clicked",
    "incoming_email",
    "incoming_call",
    "missed_call",
    "form_submitted",
    "site_visit",
    "client_returned",
    "invoice_paid",
    "field_changed",
    "responsible_changed",
    "task_status",
    "webhook",
];

impl TriggerKind {
    /// The API name of the event type.
    pub fn type_name(&self) -> &'static str {
        match self {
            TriggerKind::EmailRead(_) => "email_read",
            TriggerKind::EmailLinkClicked(_) => "email_link_clicked",
            TriggerKind::IncomingEmail(_) => "incoming_email",
            TriggerKind::IncomingCall(_) => "incoming_call",
            TriggerKind::MissedCall(_) => "missed_call",
            TriggerKind::FormSubmitted(_) => "form_submitted",
            TriggerKind::SiteVisit(_) => "site_visit",
            TriggerKind::ClientReturned(_) => "client_returned",
            TriggerKind::InvoicePaid(_) => "invoice_paid",
            TriggerKind::FieldChanged(_) => "field_changed",
            TriggerKind::ResponsibleChanged(_) => "responsible_changed",
            TriggerKind::TaskStatus(_) => "task_status",
            TriggerKind::Webhook(_) => "webhook",
        }
    }
}

/// Settings of triggers that have none.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// `email_link_clicked`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkClicked {
    /// Fire only when the clicked URL contains this text.
    #[serde(default)]
    pub url_contains: Option<String>,
}

/// `form_submitted`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSubmitted {
    /// Fire only for this form.
    #[serde(default)]
    pub form_id: Option<String>,
}

/// `field_changed`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChanged {
    /// Paths watched (`amount`, `fields.budget`); any of them changing fires.
    pub fields: Vec<String>,
}

/// `task_status`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskStatusTrigger {
    pub status: TaskStatus,
    /// Condition on the task (`title`, `description`, `responsible_id`, `status`, `stage_id`, `robot_id`).
    #[serde(default)]
    pub task_filter: Option<Condition>,
}

/// `webhook`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// The code external systems send in `data.code`.
    pub code: String,
}
