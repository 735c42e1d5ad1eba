//! Domain records: directory, pipelines, items, the records robots create,
//! the run log, events and the transactional outbox.
//!
//! These are both the stored shapes and (mostly) the API shapes.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workhours::WorkingHours;

/// A department of the company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Department {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub head_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// An employee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub department_id: Option<String>,
    /// IANA zone name, e.g. `Europe/Moscow`.
    pub time_zone: String,
    #[serde(default)]
    pub working_hours: WorkingHours,
    #[serde(default)]
    pub days_off: Vec<NaiveDate>,
}

/// Meaning of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Semantic {
    Process,
    Success,
    Failure,
}

/// One stage of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stage {
    pub id: String,
    pub name: String,
    #[serde(default = "default_semantic")]
    pub semantic: Semantic,
}

fn default_semantic() -> Semantic {
    Semantic::Process
}

/// Type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Number,
    Date,
    Datetime,
    Bool,
    User,
    List,
    File,
}

/// Declaration of a custom field of a pipeline's items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldDef {
    pub key: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub name: Option<String>,
    /// Allowed values of a `list` field (empty = any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// A `list` field that holds several values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiple: bool,
}

/// A pipeline (funnel) of one entity type: its ordered stages and custom fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pipeline {
    pub id: String,
    /// `lead`, `deal`, `quote`, `invoice` or a smart-process type `smart:<code>`.
    pub entity_type: String,
    pub name: String,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub fields: Vec<FieldDef>,
    /// Open and click tracking of the HTML emails robots send to clients
    /// (a pixel and rewritten links; issue #15). Default on.
    #[serde(default = "tracking_on")]
    pub email_tracking: bool,
}

fn tracking_on() -> bool {
    true
}

impl Pipeline {
    /// Position of a stage in pipeline order.
    pub fn stage_index(&self, stage_id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == stage_id)
    }
    pub fn stage(&self, stage_id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == stage_id)
    }
    pub fn field(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// The client of an item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Client {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// The client's messenger handles by network (`telegram`, `whatsapp`,
    /// … — see [`crate::robots::message_client::NETWORKS`]): where
    /// `message_client` replies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub messengers: BTreeMap<String, String>,
}

/// Causal chain of automatic moves, for loop protection across time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Chain {
    pub id: String,
    /// Automatic (robot/trigger) moves since a person or an external event started the chain.
    pub hops: u32,
}

/// A deal, lead, quote, invoice or smart-process item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Item {
    pub id: String,
    pub entity_type: String,
    pub pipeline_id: String,
    pub stage_id: String,
    /// Number of the current stage visit (1 = the stage it was created in).
    pub visit: u64,
    pub visit_started_at: DateTime<Utc>,
    pub title: String,
    #[serde(default)]
    pub amount: f64,
    #[serde(default)]
    pub currency: String,
    pub responsible_id: String,
    #[serde(default)]
    pub client: Client,
    #[serde(default)]
    pub is_repeat: bool,
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic version (mirrors the document version).
    #[serde(default)]
    pub version: u64,
    /// Chain of the current visit.
    pub chain: Chain,
    /// Time spent in each stage left so far, summed over visits (reports).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub stage_time: crate::reports::StageTimes,
    /// The integrator's id of the item (issue #16: `DEAL_57` names the deal
    /// whose external id is `57`); unique per tenant and entity type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Status of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Pending,
    InProgress,
    Completed,
    Deferred,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Completed => "completed",
            TaskStatus::Deferred => "deferred",
        }
    }
}

/// A task created by a robot, linked to its item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Task {
    pub id: String,
    pub item_id: String,
    pub pipeline_id: String,
    /// The stage of the robot that created it (what `complete_task` filters on).
    pub stage_id: String,
    pub robot_id: String,
    pub title: String,
    pub description: String,
    pub responsible_id: String,
    #[serde(default)]
    pub accomplice_ids: Vec<String>,
    #[serde(default)]
    pub auditor_ids: Vec<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub time_tracking: bool,
    pub deadline: Option<DateTime<Utc>>,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub version: u64,
}

/// Kind of a planned activity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Call,
    Meeting,
    #[default]
    Other,
}

/// An activity (call, meeting, …) planned on an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Activity {
    pub id: String,
    pub item_id: String,
    pub stage_id: String,
    pub visit: u64,
    pub robot_id: String,
    pub description: String,
    pub activity_type: ActivityType,
    pub responsible_id: String,
    pub deadline: DateTime<Utc>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub add_to_calendar: bool,
    #[serde(default)]
    pub invited_user_ids: Vec<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    pub auto_complete: bool,
    pub completed: bool,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// A notification to one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub from_id: Option<String>,
    pub text: String,
    pub item_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// Type of a chat message.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    #[default]
    General,
    Announcement,
    Notification,
    Important,
    Alarm,
}

/// A group chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Chat {
    pub id: String,
    pub name: String,
    pub member_ids: Vec<String>,
    /// Members who joined without access to earlier history.
    #[serde(default)]
    pub history_hidden_for: Vec<String>,
    pub item_id: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// A message in a group chat (parent `chat:<id>`) or a direct message
/// (parent `user:<recipient>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Message {
    pub id: String,
    pub chat_id: Option<String>,
    pub sender_id: String,
    pub recipient_id: Option<String>,
    pub message_type: MessageType,
    pub text: String,
    pub item_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// A post in the company feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FeedPost {
    pub id: String,
    pub subject: String,
    pub text: String,
    pub sender_id: String,
    pub recipient_ids: Vec<String>,
    pub department_ids: Vec<String>,
    pub everyone: bool,
    pub tag: Option<String>,
    pub item_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// Channel of an outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    /// A robocall (`call_client`): the body is the text to speak.
    Call,
    /// A messenger / open-channel message (`message_client`); the network
    /// is in `Outbound::network`.
    Messenger,
}

impl Channel {
    /// Every channel, in listing order.
    pub const ALL: [Channel; 4] = [
        Channel::Email,
        Channel::Sms,
        Channel::Call,
        Channel::Messenger,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Messenger => "messenger",
        }
    }

    /// Inverse of [`Channel::as_str`].
    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Delivery state of an outbound message (see [`crate::outbound`]):
/// `queued` (waiting for its first or next attempt) → `sending` (an attempt
/// is with the provider) → `sent`, or `failed` (the dead letter: rejected by
/// the provider, or no attempts left; `POST /v1/outbox/{id}/retry` queues it
/// again). An email that was `sent` may later become `bounced` (the
/// recipient's server refused it for good: an SES permanent bounce, or a
/// delivery status notification arriving at the local SMTP listener) or
/// `complained` (the recipient marked it as spam), see [`crate::inbound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboundStatus {
    Queued,
    Sending,
    Sent,
    Failed,
    Bounced,
    Complained,
}

impl OutboundStatus {
    /// Every status, in the order a message goes through them.
    pub const ALL: [OutboundStatus; 6] = [
        OutboundStatus::Queued,
        OutboundStatus::Sending,
        OutboundStatus::Sent,
        OutboundStatus::Failed,
        OutboundStatus::Bounced,
        OutboundStatus::Complained,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboundStatus::Queued => "queued",
            OutboundStatus::Sending => "sending",
            OutboundStatus::Sent => "sent",
            OutboundStatus::Failed => "failed",
            OutboundStatus::Bounced => "bounced",
            OutboundStatus::Complained => "complained",
        }
    }

    /// Inverse of [`OutboundStatus::as_str`].
    pub fn parse(s: &str) -> Option<OutboundStatus> {
        OutboundStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An outbound email or SMS (to an employee or to the item's client).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outbound {
    pub id: String,
    pub tenant: String,
    pub channel: Channel,
    pub to: String,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub provider: Option<String>,
    pub item_id: Option<String>,
    /// Sent to the item's client (tracked for the email triggers).
    pub to_client: bool,
    pub status: OutboundStatus,
    pub at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Documents attached (ids; `GET /v1/documents/{id}`), email only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// Channel `messenger`: the network (`telegram`, `whatsapp`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Channel `call`: how the text is spoken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallSpec>,
    /// Attempts made to hand the message to the provider.
    #[serde(default)]
    pub attempts: u32,
    /// What the last failed attempt got (kept after a later success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The provider's id of the sent message (SMTP: the `Message-ID`
    /// header; SES: its `MessageId`; SNS: its `MessageId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// `queued`: when the next attempt is made; `sending`: when the
    /// attempt's lease ends (a message still `sending` then is tried again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// An email to the client, when incoming email is on: the tenant's
    /// inbound address its `Reply-To` names (`in_…@{inbound domain}`), so
    /// that a reply comes back to the CRM ([`crate::inbound`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The robot run that sent it (its bounce, complaint or failure shows
    /// on that run as [`RunRecord::delivery`]); `None` for messages sent
    /// before runs were recorded on them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// How a robocall speaks its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallSpec {
    /// BCP-47 language of the voice, e.g. `ru-RU`.
    pub language: String,
    /// A named voice of the telephony provider, if chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// How many times the text is said (1–3).
    pub repeat: u8,
}

/// One timeline entry of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelineEntry {
    pub id: String,
    pub item_id: String,
    pub at: DateTime<Utc>,
    /// `created`, `stage_changed`, `info`, `comment`, `task_created`,
    /// `task_completed`, `activity_planned`, `activity_completed`,
    /// `fields_changed`, `responsible_changed`, `email_sent`, `sms_sent`, `deleted`,
    /// `call_sent`, `messenger_sent`, `delivery_failed` (an email or SMS
    /// of the item that could not be delivered).
    pub kind: String,
    pub author_id: Option<String>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

/// Every kind of timeline entry (what `GET /v1/items/{id}/timeline?kind=`
/// filters on).
pub const TIMELINE_KINDS: &[&str] = &[
    "created",
    "stage_changed",
    "fields_changed",
    "responsible_changed",
    "info",
    "comment",
    "task_created",
    "task_status",
    "task_completed",
    "activity_planned",
    "activity_completed",
    "email_sent",
    "sms_sent",
    "deleted",
    "call_sent",
    "messenger_sent",
    "delivery_failed",
];

/// What the run log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Robot,
    Trigger,
}

/// Outcome of a run-log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Planned, waiting for its time (or for the previous robot).
    Pending,
    /// Claimed by a runner (in progress until `claim_until`).
    Running,
    Done,
    Skipped,
    Cancelled,
    Failed,
    LoopStopped,
    /// Performed, waiting for an outside outcome (a webhook's answer): not
    /// final; a robot after it keeps waiting.
    Waiting,
}

impl RunStatus {
    /// Final: the run will never execute (again).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            RunStatus::Pending | RunStatus::Running | RunStatus::Waiting
        )
    }
}

/// One record of the run log: a robot run of a visit, or a trigger evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    pub id: String,
    pub kind: RunKind,
    pub item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robot_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub stage_id: String,
    pub visit: u64,
    pub status: RunStatus,
    pub reason: Option<String>,
    /// Robot runs: when it is (was) due; `None` while waiting for the previous robot.
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    /// Robot runs: the robot as it was configured when the visit began. A
    /// pending run keeps these settings when the robot is edited (edits apply
    /// to visits that start afterwards); deleting the robot cancels the run
    /// ("cancelled: robot deleted").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robot: Option<crate::robots::Robot>,
    /// Robot runs: waits for this run to finish first (`after_previous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_run: Option<String>,
    /// Robot runs: the run that waits for this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<String>,
    /// Robot runs with `wait_for: task_completed`: the task (of the
    /// previous robot) it waits to be completed; a job that finds it still
    /// set is the wait's timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_task: Option<String>,
    pub chain: Chain,
    /// Running: the claim expires at this time (a crashed runner's claim can be taken over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub version: u64,
    /// Robot runs that sent a message: set when the message failed for
    /// good, bounced or was marked as spam (what, why and when); cleared
    /// when a failed message is queued again. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::outbound::run_delivery::RunDelivery>,
}

/// Identifies an item by its client's contacts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClientRef {
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// An event waiting for trigger evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub tenant: String,
    pub event_id: String,
    /// A trigger type (`email_read`, `task_status`, `webhook`, …).
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub item_id: Option<String>,
    #[serde(default)]
    pub client: Option<ClientRef>,
    #[serde(default)]
    pub data: Value,
    pub occurred_at: DateTime<Utc>,
    /// Set when the event was caused by automation (robot/trigger), for loop protection.
    #[serde(default)]
    pub chain: Option<Chain>,
    /// On AWS, an event that names a client is fanned out: one queued
    /// message per matched item ([`FanOut::Part`]), the listing of the
    /// items continued page by page ([`FanOut::Listing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fan_out: Option<FanOut>,
}

/// Where the fan-out of a client-matched event stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum FanOut {
    /// One part of the event, for its `item_id` only: the event's record is
    /// the whole event's, written by the listing.
    Part,
    /// The listing of the matched items, continued from `cursor`, with the
    /// items sent so far counted and sampled.
    Listing {
        cursor: ClientItemsCursor,
        count: u64,
        sample: Vec<String>,
    },
}

/// Where the listing of a client's items got to: the index of the client
/// key (phone, then email) and the last client-index entry read under it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientItemsCursor {
    pub key: usize,
    pub after: Option<String>,
}

/// Most item ids an event's record lists ([`EventRecord::item_ids`]).
pub const EVENT_ITEM_SAMPLE: usize = 20;

/// What became of a processed event (`GET /v1/events/{id}`); the per-item
/// outcome (which trigger fired, or why none did) is in each item's run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventRecord {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// `evaluated` (matched items are listed) or `unmatched`.
    pub status: String,
    /// The matched items: all of them up to [`EVENT_ITEM_SAMPLE`], else the
    /// first ones (`item_count` says how many in all).
    pub item_ids: Vec<String>,
    /// How many items the event was evaluated for.
    #[serde(default)]
    pub item_count: u64,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
}

/// A stage change, as recorded in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageMove {
    pub from_stage: Option<String>,
    pub from_visit: u64,
    pub to_stage: String,
    pub to_visit: u64,
}

/// What changed in one committed write of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemChange {
    pub tenant: String,
    pub item_id: String,
    pub version: u64,
    pub at: DateTime<Utc>,
    pub author_id: Option<String>,
    #[serde(default)]
    pub stage: Option<StageMove>,
    /// Paths of changed fields (`title`, `amount`, `fields.budget`, …).
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub responsible_changed: bool,
    #[serde(default)]
    pub deleted: bool,
    pub chain: Chain,
    /// What the reports count of this change (set when the change is
    /// written; absent in records written before reports existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::reports::VisitFacts>,
}

/// A transactional outbox record: follow-up work written in the same
/// transaction as the change that causes it, so that it cannot be lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "snake_case")]
pub enum OutboxRecord {
    /// An item changed: end/plan visits, evaluate change triggers.
    ItemChanged(ItemChange),
    /// A run became ready (its previous robot finished): queue or schedule it.
    RunReady(crate::ports::Job),
    /// An event for trigger evaluation.
    Event(QueuedEvent),
    /// An outbound message to hand to the delivery port.
    Deliver { tenant: String, outbound_id: String },
    /// A change of an advertising audience to hand to the audiences port.
    Audience(crate::audiences::AudienceChange),
    /// A webhook call to make (its record is `Kind::WebhookCall`, id = the run id).
    CallWebhook { tenant: String, run_id: String },
    /// Cancel a deleted robot's pending runs, the `page`-th page of its
    /// index, after the indexed run `after` (`engine/deleted_robot_runs.rs`).
    CancelRobotRuns {
        tenant: String,
        robot_id: String,
        page: u32,
        after: Option<String>,
    },
}
