//! Ports: the only ways the engine reaches the outside world.
//!
//! The engine keeps all of its state in a [`DocStore`]: a tenant-scoped document
//! store with optimistic versions and all-or-nothing transactions. Everything the
//! product remembers (configuration, items, visits' runs, tasks, chats, the run
//! log, the transactional outbox) is a [`Doc`]. Adapters are deliberately dumb:
//! they store and return documents; every rule lives in the engine.
//!
//! Work that must happen later goes through [`JobQueue`] (now) and [`Scheduler`]
//! (at a time); external events through [`EventQueue`]. Time comes from
//! [`Clock`], ids from [`IdGen`], outbound email/SMS through [`Delivery`].
//! The in-process consumer side of the queues (take, ack, park) is in
//! [`crate::work_source`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Generates [`Kind`], [`Kind::ALL`] and the stored names from one list.
macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident = $name:literal,)+) => {
        /// What a document is. Stored as its snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $($(#[$doc])* $kind,)+
        }

        impl Kind {
            /// Every kind, for adapters that need to enumerate them.
            pub const ALL: &[Kind] = &[$(Kind::$kind),+];

            /// The stored name (`"item"`, `"feed_post"`, …).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => $name,)+
                }
            }
        }
    };
}

kinds! {
    Department = "department",
    User = "user",
    Pipeline = "pipeline",
    Robot = "robot",
    Trigger = "trigger",
    Item = "item",
    /// Run-log record (robot run or trigger evaluation); parent = item id.
    Run = "run",
    Task = "task",
    Activity = "activity",
    Notification = "notification",
    Chat = "chat",
    /// Direct message; parent = recipient user id.
    Message = "message",
    FeedPost = "feed_post",
    /// Outbound email/SMS; parent = channel.
    Outbound = "outbound",
    /// Timeline entry; parent = item id.
    Timeline = "timeline",
    /// Client phone/email → item ids.
    ClientIndex = "client_index",
    /// Accepted external event (idempotency record); id = idempotency key.
    Event = "event",
    /// Per-tenant counters (id sequences, rotation cursors).
    Counter = "counter",
    /// Transactional outbox record; processed by the stage-change step.
    Outbox = "outbox",
    /// Index of a pending robot run; parent = robot id, id = run id (what
    /// deleting a robot cancels).
    PendingRun = "pending_run",
    /// A `.docx` document template (the file is a blob); parent = "all".
    DocumentTemplate = "document_template",
    /// A numbering rule of documents; parent = "all".
    Numerator = "numerator",
    /// A generated document (its files are blobs); parent = item id.
    Document = "document",
    /// Report aggregate (issue #13): counts of one stage or robot, UTC day
    /// and shard; unlisted, read by key.
    Report = "report",
    /// An advertising audience (issue #14) with its member count; parent =
    /// "all", id = `{network}:{audience_id}`.
    Audience = "audience",
    /// A member of an audience: an item's client by hashed contacts; parent
    /// = `{network}:{audience_id}`.
    AudienceMember = "audience_member",
    /// List entry of a task under its responsible user; id = the task's id.
    UserTask = "user_task",
    /// List entry of an activity under its responsible user; id = the
    /// activity's id.
    UserActivity = "user_activity",
    /// An outbound webhook call waiting for its outcome (issue #14); id =
    /// the run id, unlisted, deleted when the run is final.
    WebhookCall = "webhook_call",
    /// The tenant's webhook signing secret; id = "webhook", unlisted.
    WebhookSecret = "webhook_secret",
    /// Bitrix24 inbound-webhook credential (issue #16): per tenant, listed
    /// under "all", id = its number zero-padded; and under `_system`, id =
    /// the secret's SHA-256 hex (the lookup of a presented secret).
    RestWebhook = "rest_webhook",
    /// A registered Bitrix24 app trigger code (issue #16); parent = "all",
    /// id = the code.
    AppTrigger = "app_trigger",
    /// An item's external id (issue #16), unlisted: id = "<entity
    /// type>|<external id>", body = the item id.
    ExternalId = "external_id",
    /// A robot type registered by an application (issue #14); parent =
    /// "all", id = its code.
    RobotType = "robot_type",
    /// The wait of an application robot's run for its answer (issue #14),
    /// unlisted: per tenant, id = the run id; and under `_system`, id = the
    /// event token's SHA-256 hex (the answer's lookup).
    RobotEvent = "robot_event",
    /// A web form (issue #15): per tenant listed under "all", id = its
    /// public id; and under `_system`, unlisted, the form id → tenant lookup.
    WebForm = "web_form",
    /// The remembered outcome of a form submission with an
    /// `Idempotency-Key` (unlisted, expires after 7 days).
    FormSubmission = "form_submission",
    /// A site tracker key (issue #15): per tenant listed under "all"; and
    /// under `_system`, unlisted, the key → tenant lookup.
    SiteKey = "site_key",
    /// A visitor of the tracked site (unlisted, expires): its client once
    /// tied and when it was last seen.
    Visitor = "visitor",
    /// A payment provider's configuration (issue #15): per tenant, id = the
    /// provider; and under `_system`, id = the webhook endpoint id → tenant.
    PaymentProvider = "payment_provider",
    /// The tenant's email tracking key (issue #15); id = "tracking",
    /// unlisted, made on first use, never rotated.
    TrackingKey = "tracking_key",
    /// The tenant's inbound email address (issue #15): per tenant, id =
    /// "inbound", unlisted, made on first use, never rotated; and under
    /// `_system`, id = the address id (`in_…`) → tenant.
    InboundAddress = "inbound_address",
}

impl Kind {
    /// Inverse of [`Kind::as_str`].
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Kinds whose documents are only ever listed under their parent, never
    /// read by key ([`DocStore::get`] of one is unspecified), and written
    /// with [`Cond::Any`] only: indexes and append-only logs. An adapter may
    /// store such a document once, as its list entry (the DynamoDB adapter
    /// does, issue #11: one item write, not two). Today: the pending-run
    /// index, an item's timeline (listed under the item, entries written
    /// unconditionally and never rewritten), and the per-user entries of
    /// tasks and activities (listed under the user; the list reads the
    /// records they name).
    pub fn list_only(self) -> bool {
        matches!(
            self,
            Kind::PendingRun | Kind::Timeline | Kind::UserTask | Kind::UserActivity
        )
    }

    /// The parent a document of this kind is listed under when its id names
    /// it; `None` when the id does not (any id of other kinds).
    ///
    /// Today: a run-log record whose id is a robot run's
    /// `{item_id}:{visit}:{robot_id}` or a trigger evaluation's
    /// `{item_id}:evt:{event_id}` belongs to the item (item ids are made by
    /// [`IdGen`] and hold no `:`). Such a document must be written and
    /// deleted with exactly that parent ([`StoreError::Invalid`] otherwise,
    /// on every store), so an adapter can find it from its key alone: the
    /// DynamoDB adapter stores it once, as its list entry, and reads it by
    /// key from there (issue #11).
    pub fn parent_of_id(self, id: &str) -> Option<&str> {
        if self != Kind::Run {
            return None;
        }
        let (item, rest) = id.split_once(':')?;
        let (visit, tail) = rest.split_once(':')?;
        let named =
            visit == "evt" || (!visit.is_empty() && visit.bytes().all(|b| b.is_ascii_digit()));
        (!item.is_empty() && named && !tail.is_empty()).then_some(item)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tenant under which outbox records are kept, so that one process can
/// find every tenant's pending records with one `list`.
pub const SYSTEM_TENANT: &str = "_system";

/// Primary key of a document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DocKey {
    pub tenant: String,
    pub kind: Kind,
    pub id: String,
}

impl DocKey {
    pub fn new(tenant: impl Into<String>, kind: Kind, id: impl Into<String>) -> Self {
        DocKey {
            tenant: tenant.into(),
            kind,
            id: id.into(),
        }
    }
}

impl fmt::Display for DocKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.kind, self.id)
    }
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub key: DocKey,
    /// Optimistic version: 1 on first write, +1 on every put. Adapters store
    /// the version they are given; the engine computes it.
    pub version: u64,
    /// Secondary grouping used by [`DocStore::list`] (e.g. the item a run
    /// belongs to). Documents without a parent are only reachable by key.
    pub parent: Option<String>,
    /// Epoch seconds after which the adapter may delete the document
    /// (DynamoDB TTL); `None` = keep.
    pub expires_at: Option<i64>,
    pub body: Value,
}

/// Condition attached to a write. A failed condition fails the whole
/// transaction with [`StoreError::Conflict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cond {
    /// No condition.
    Any,
    /// The document must not exist.
    Absent,
    /// The document must exist with exactly this version.
    Version(u64),
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put {
        doc: Doc,
        cond: Cond,
    },
    /// `parent` must be the stored document's parent (adapters keep list
    /// entries per parent and remove them without a read).
    Delete {
        key: DocKey,
        parent: Option<String>,
        cond: Cond,
    },
    /// Only checks the condition (writes nothing).
    Check {
        key: DocKey,
        cond: Cond,
    },
}

impl Write {
    pub fn key(&self) -> &DocKey {
        match self {
            Write::Put { doc, .. } => &doc.key,
            Write::Delete { key, .. } | Write::Check { key, .. } => key,
        }
    }
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of the transaction did not hold (optimistic-lock contention
    /// or an idempotency record that already exists). Nothing was written.
    #[error("conflict on {key}")]
    Conflict { key: String },
    /// A transaction touched the same key twice or was otherwise malformed.
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// The backend failed; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backend refuses these writes whatever the timing (an item over its
    /// size limit, a transaction over the backend's limits): a retry cannot
    /// succeed, so callers make the work final (a robot run: `failed`).
    #[error("rejected by the store: {0}")]
    Rejected(String),
}

/// Most writes one transaction may hold. DynamoDB allows 100 items per
/// transaction; its adapter may spend two per document (record + list entry).
pub const MAX_TRANSACTION_WRITES: usize = 50;

/// Tenant-scoped document store with optimistic versions.
///
/// Contract (checked by the contract test suite on every adapter):
/// - `transact` applies all writes or none; a failed condition → `Conflict`;
///   two writes on one key in one transaction → `Invalid`; more than
///   [`MAX_TRANSACTION_WRITES`] → `Invalid`.
/// - `list` returns the documents of (tenant, kind) whose parent equals
///   `parent`, ordered by id ascending (byte order).
/// - Tenants never see each other's documents.
#[async_trait]
pub trait DocStore: Send + Sync {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError>;
    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await?);
        }
        Ok(out)
    }
    /// [`DocStore::get_many`] for settings a run reads but does not write
    /// (pipelines, robots, users): a document found may be up to about a
    /// second old (DynamoDB: an eventually consistent read, half the read
    /// units); a document reported absent is absent (confirmed by a
    /// consistent read), so a robot or pipeline created a moment ago is
    /// never taken for deleted. Stores without the distinction read as
    /// `get_many`.
    async fn get_many_settled(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.get_many(keys).await
    }
    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError>;
    /// One page of [`DocStore::list`]: at most `limit` documents whose id
    /// sorts after `after` (byte order). Adapters that can seek (SQLite) read
    /// only the page; the default reads the whole list and cuts it.
    async fn list_page(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Doc>, StoreError> {
        let docs = self.list(tenant, kind, parent).await?;
        Ok(docs
            .into_iter()
            .filter(|d| after.is_none_or(|a| d.key.id.as_str() > a))
            .take(limit)
            .collect())
    }
    /// The documents of [`DocStore::list`] whose id starts with `prefix` (and
    /// is longer), ordered by id — what one visit of an item holds, say, read
    /// without reading the rest of the list. Adapters that can seek read only
    /// those (and at most one page past them); the default pages through
    /// [`DocStore::list_page`] from `prefix`.
    async fn list_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        const PAGE: usize = 32;
        let mut out = Vec::new();
        let mut after = prefix.to_owned();
        loop {
            let page = self
                .list_page(tenant, kind, parent, Some(&after), PAGE)
                .await?;
            let full = page.len() == PAGE;
            for d in page {
                if !d.key.id.starts_with(prefix) {
                    return Ok(out);
                }
                after.clone_from(&d.key.id);
                out.push(d);
            }
            if !full {
                return Ok(out);
            }
        }
    }
    /// How many documents [`DocStore::list_prefix`] would return, counting
    /// at most `max`: how far a list's range goes without reading it (one
    /// tenant's pending outbox records, say). Adapters that can count an
    /// index range do so without reading the documents; the default pages
    /// through [`DocStore::list_page`].
    async fn count_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
        max: usize,
    ) -> Result<usize, StoreError> {
        const PAGE: usize = 256;
        let mut n = 0;
        let mut after = prefix.to_owned();
        while n < max {
            // An empty prefix starts at the list's first id (an empty key
            // is no position for DynamoDB).
            let from = (!after.is_empty()).then_some(after.as_str());
            let page = self
                .list_page(tenant, kind, parent, from, PAGE.min(max - n))
                .await?;
            let full = page.len() == PAGE.min(max - n);
            for d in page {
                if !d.key.id.starts_with(prefix) {
                    return Ok(n);
                }
                n += 1;
                after = d.key.id;
            }
            if !full {
                break;
            }
        }
        Ok(n)
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError>;
    /// Most writes [`DocStore::transact_group`] takes (at least
    /// [`MAX_TRANSACTION_WRITES`]).
    fn group_limit(&self) -> usize {
        MAX_TRANSACTION_WRITES
    }
    /// A group commit: [`DocStore::transact`]'s semantics (all or nothing,
    /// every condition checked, no key twice) for up to
    /// [`DocStore::group_limit`] writes — the changes of many independent
    /// units of work (the local worker's batch of robot runs) made durable
    /// by one commit. A store whose transactions are small (DynamoDB: 100
    /// items) keeps the default: the limit of [`DocStore::transact`].
    async fn transact_group(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact(writes).await
    }
    /// Does one transaction of independent records cost more than writing
    /// them one by one? DynamoDB bills every item of a `TransactWriteItems`
    /// twice and a conditional `PutItem` once (issue #11), so a writer of
    /// records that need not commit together (a visit's planned runs) then
    /// commits each on its own. SQLite: no (one commit is cheaper than many).
    fn prefers_single_writes(&self) -> bool {
        false
    }
    /// Delete documents whose `expires_at` is before `now_epoch_secs`, at
    /// most `limit` of them; returns how many. For a store without expiry of
    /// its own (SQLite); DynamoDB's TTL deletes them itself, so the default
    /// deletes nothing. Expiry is a permission to delete, not a promise:
    /// readers must not rely on an expired document being gone.
    async fn purge_expired(&self, now_epoch_secs: i64, limit: usize) -> Result<usize, StoreError> {
        let _ = (now_epoch_secs, limit);
        Ok(0)
    }
}

/// Work for the robot runner: one planned robot run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub tenant: String,
    /// Deterministic run id: `{item_id}:{visit}:{robot_id}`.
    pub run_id: String,
    pub item_id: String,
    pub visit: u64,
    /// When the job is to be delivered, never earlier: the run's due time,
    /// or (a job deferred behind another runner's claim) the claim's end.
    /// The runner checks the run's own due time again.
    pub due_at: DateTime<Utc>,
    /// Further runs of the same item and visit, due now, in robot order
    /// (issue #11, a "visit job"): the runner runs `run_id` and then these,
    /// each against the state the earlier ones leave, and commits them
    /// together ([`crate::Engine::run_visit_job`]). Empty for a job of one
    /// run; a body without it (an older message) is a job of one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<String>,
}

impl Job {
    /// Deterministic schedule/message name, safe for EventBridge Scheduler
    /// (`[0-9a-zA-Z-_.]`, ≤ 64 chars).
    pub fn schedule_name(&self) -> String {
        schedule_name(&self.tenant, &self.run_id)
    }
}

/// Deterministic schedule name for a run: readable prefix + a stable hash.
pub fn schedule_name(tenant: &str, run_id: &str) -> String {
    // FNV-1a 64: stable across processes and versions (unlike std's hasher).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant.bytes().chain([0u8]).chain(run_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let readable: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("run-{readable}-{h:016x}")
}

/// Failures of queues, schedulers and delivery.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("rejected: {0}")]
    Rejected(String),
}

/// Queue of robot runs (SQS robot-actions queue). A job is delivered no
/// earlier than its `due_at` (SQS: `DelaySeconds`, up to 15 minutes; the
/// runner defers a job that still arrives early); jobs due now go at once.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn send(&self, jobs: Vec<Job>) -> Result<(), PortError>;
}

/// One-time timers that deliver a [`Job`] at its `due_at`, never earlier
/// (on AWS: the robot queue with a delay for jobs due within 15 minutes,
/// else an EventBridge Scheduler schedule that sends the job to that queue).
/// Scheduling the same job twice keeps one timer.
#[async_trait]
pub trait Scheduler: Send + Sync {
    async fn schedule(&self, job: Job) -> Result<(), PortError>;
    /// Tidy-up only: the run-time visit check is the guarantee. Unknown names are fine.
    async fn cancel(&self, tenant: &str, run_id: &str) -> Result<(), PortError>;
}

/// Queue of accepted external/internal events for trigger evaluation.
#[async_trait]
pub trait EventQueue: Send + Sync {
    async fn send(&self, event: crate::model::QueuedEvent) -> Result<(), PortError>;
}

/// What a provider said when it accepted a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The provider's id of the message (kept on the outbound record).
    pub provider_message_id: Option<String>,
}

/// Outbound email/SMS provider (see [`crate::outbound`]).
#[async_trait]
pub trait Delivery: Send + Sync {
    /// Hand one message to the provider. The engine calls it at most once
    /// per attempt of a message (a record is marked `sending` first); after a
    /// crash mid-attempt it may call again once the attempt's lease ends, so
    /// providers that can should de-duplicate by `message.id`.
    ///
    /// Errors: [`PortError::Unavailable`] is transient (connection refused,
    /// SMTP 4xx, throttling, 5xx of an HTTP provider): the engine tries again
    /// later; [`PortError::Rejected`] is permanent (SMTP 5xx, SES
    /// `MessageRejected`, an invalid number): the message fails at once.
    async fn deliver(&self, message: &crate::model::Outbound) -> Result<Delivered, PortError>;

    /// Hand one message with its files (an email's attachments, read by the
    /// engine: [`crate::outbound::files`]) to the provider. Senders that can
    /// carry files override it; the default sends a message without files
    /// and refuses one with files (permanently), so no email goes out
    /// without the documents it promises.
    async fn deliver_with_files(
        &self,
        message: &crate::model::Outbound,
        files: &[crate::outbound::files::OutboundFile],
    ) -> Result<Delivered, PortError> {
        if files.is_empty() {
            self.deliver(message).await
        } else {
            Err(PortError::Rejected(format!(
                "the {} sender cannot attach files",
                message.channel.as_str()
            )))
        }
    }
}

/// Source of time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Source of fresh ids (for things a client creates without naming them).
pub trait IdGen: Send + Sync {
    fn next_id(&self, prefix: &str) -> String;
}

/// All ports, bundled for the engine.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn DocStore>,
    pub jobs: Arc<dyn JobQueue>,
    pub scheduler: Arc<dyn Scheduler>,
    pub events: Arc<dyn EventQueue>,
    pub delivery: Arc<dyn Delivery>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    /// Files: document templates and generated documents.
    pub blobs: Arc<dyn crate::blob_store::BlobStore>,
    /// Outbound HTTP calls (webhooks), made after the commit.
    pub http: Arc<dyn crate::http_call::HttpCaller>,
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn every_kind_is_stored_under_its_serialized_name_and_parses_back() {
        for k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(Kind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(Kind::parse("nothing"), None);
    }

    #[test]
    fn a_run_id_names_its_item_and_no_other_id_names_a_parent() {
        assert_eq!(Kind::Run.parent_of_id("item-7:3:robot-1"), Some("item-7"));
        assert_eq!(
            Kind::Run.parent_of_id("item-7:12:r:with:colons"),
            Some("item-7")
        );
        assert_eq!(Kind::Run.parent_of_id("item-7:evt:evt-9"), Some("item-7"));
        for id in [
            "run-1",
            "item-7",
            "item-7:",
            "item-7:3",
            "item-7:3:",
            ":3:r",
            "i:x:r",
            "i::r",
        ] {
            assert_eq!(Kind::Run.parent_of_id(id), None, "{id}");
        }
        for k in Kind::ALL.iter().filter(|k| **k != Kind::Run) {
            assert_eq!(k.parent_of_id("item-7:3:robot-1"), None, "{k}");
        }
    }
}
