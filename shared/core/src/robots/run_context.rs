//! What a robot's action sees and may use while it runs: the run, the item as
//! it is now, its pipeline and responsible, the outputs of earlier robots of
//! the visit, the time, and helpers shared by the actions (resolving user
//! settings, notifying, queueing an outbound message, committing a changed
//! item). An action returns an [`Effect`] — writes committed together with
//! the run's final record — or an [`ActionError`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::Robot;
use crate::check::{RESPONSIBLE, SUPERVISOR};
use crate::context::{ItemContext, Outputs};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::{
    Channel, Department, Item, ItemChange, Notification, Outbound, OutboundStatus, OutboxRecord,
    Pipeline, RunRecord, RunStatus, StageMove, TimelineEntry, User,
};
use crate::ports::{Cond, MAX_TRANSACTION_WRITES, StoreError, Write};
use crate::store::{DEPARTMENTS, TimelineSlots, put, record_doc, timeline_write};

/// Most levels of sub-departments a department recipient setting reaches.
pub const MAX_DEPARTMENT_DEPTH: usize = 16;
/// Most departments (named + sub-departments) one department recipient
/// setting reaches.
pub const MAX_DEPARTMENTS: usize = 200;
use crate::template::{MAX_RENDERED_BYTES, Template, TooLong};

/// Why an action did not produce an effect.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The action cannot be performed (a missing chat, a user without an
    /// email…): the run is recorded as `failed` with this reason.
    #[error("{0}")]
    Failed(String),
    /// The store or a port is unavailable: the run is retried later.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        ActionError::Engine(e.into())
    }
}

/// The outcome of an action.
pub type ActionResult = Result<Effect, ActionError>;

/// An action that cannot be performed, with the reason.
pub fn fail<T>(reason: impl Into<String>) -> Result<T, ActionError> {
    Err(ActionError::Failed(reason.into()))
}

/// What an action does: writes to commit with the run's final record, the
/// outputs it produces, and the run's final status and note.
pub struct Effect {
    pub(crate) writes: Vec<Write>,
    pub(crate) outputs: BTreeMap<String, Value>,
    pub(crate) status: RunStatus,
    pub(crate) reason: Option<String>,
    /// The item write is part of `writes` (no separate version check needed).
    pub(crate) writes_item: bool,
}

impl Effect {
    /// Done, with these writes.
    pub fn done(writes: Vec<Write>) -> Self {
        Effect {
            writes,
            outputs: BTreeMap::new(),
            status: RunStatus::Done,
            reason: None,
            writes_item: false,
        }
    }
    /// Ended with `status` for `reason`, writing nothing.
    pub fn ended(status: RunStatus, reason: impl Into<String>) -> Self {
        Effect {
            status,
            reason: Some(reason.into()),
            ..Effect::done(Vec::new())
        }
    }
    /// With an output.
    pub fn output(mut self, key: &str, v: impl Into<String>) -> Self {
        self.outputs
            .insert(key.to_string(), Value::String(v.into()));
        self
    }
    /// With a note for the run log.
    pub fn note(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    /// With more writes.
    pub fn with(mut self, writes: Vec<Write>) -> Self {
        self.writes.extend(writes);
        self
    }
}

/// Everything an action needs to see.
pub struct RunContext<'a> {
    pub(crate) engine: &'a Engine,
    pub tenant: &'a str,
    pub run: &'a RunRecord,
    pub robot: &'a Robot,
    pub item: &'a Item,
    pub pipeline: &'a Pipeline,
    pub responsible: Option<&'a User>,
    pub outputs: &'a Outputs,
    pub now: DateTime<Utc>,
    /// The limit a rendered text exceeded (0: none did).
    pub(crate) too_long: AtomicUsize,
    /// Timeline entries made so far (their positions in the run's commit).
    pub(crate) timeline_entries: AtomicUsize,
    /// Where the run's timeline entries go (after everything so far).
    pub(crate) timeline: TimelineSlots,
}

impl RunContext<'_> {
    /// The item as templates and conditions see it.
    pub fn item_ctx(&self) -> ItemContext<'_> {
        ItemContext {
            item: self.item,
            pipeline: self.pipeline,
            responsible: self.responsible,
            outputs: self.outputs,
            now: self.now,
        }
    }

    /// Render a template against the item. A text longer than
    /// [`MAX_RENDERED_BYTES`] renders as "" and fails the run (the runner
    /// turns the action's effect into `failed` with the reason).
    pub fn render(&self, t: &Template) -> String {
        match t.render_capped(&self.item_ctx(), MAX_RENDERED_BYTES) {
            Ok(s) => s,
            Err(e) => {
                self.too_long.store(e.limit, Ordering::Relaxed);
                String::new()
            }
        }
    }

    /// [`Template::render_value`] within [`MAX_RENDERED_BYTES`] (a longer
    /// value fails the run, as [`Self::render`]).
    pub fn render_value(&self, t: &Template) -> Value {
        match t.render_value_capped(&self.item_ctx(), MAX_RENDERED_BYTES) {
            Ok(v) => v,
            Err(e) => {
                self.too_long.store(e.limit, Ordering::Relaxed);
                Value::Null
            }
        }
    }

    /// Why the run must fail because a rendered text was too long, if it must.
    pub(crate) fn too_long(&self) -> Option<String> {
        let limit = self.too_long.load(Ordering::Relaxed);
        (limit > 0).then(|| {
            format!(
                "failed: {} (limit {} KiB per rendered text)",
                TooLong { limit },
                limit / 1024
            )
        })
    }

    /// A new id for a record this run makes (see the robot-run flow on why
    /// fresh ids are safe for a run that may be attempted more than once).
    pub fn id(&self, prefix: &str) -> String {
        self.engine.ports.ids.next_id(prefix)
    }

    /// A timeline entry of the item, written with the run.
    pub fn timeline(&self, kind: &str, author: Option<String>, text: String, data: Value) -> Write {
        timeline_write(self.tenant, &self.timeline_entry(kind, author, text, data))
    }

    /// The place of the next timeline entry of the item in the run's
    /// commit (the runner commits the item's timeline counter with them).
    pub(crate) fn timeline_slot(&self) -> (&TimelineSlots, usize) {
        (
            &self.timeline,
            self.timeline_entries.fetch_add(1, Ordering::Relaxed),
        )
    }

    /// Did the run make timeline entries of its item?
    pub(crate) fn wrote_timeline(&self) -> bool {
        self.timeline_entries.load(Ordering::Relaxed) > 0
    }

    /// A timeline entry of the item at the run's time.
    pub fn timeline_entry(
        &self,
        kind: &str,
        author: Option<String>,
        text: String,
        data: Value,
    ) -> TimelineEntry {
        TimelineEntry {
            id: {
                let (slots, sub) = self.timeline_slot();
                slots.id(self.now, sub, &self.id("tl"))
            },
            item_id: self.item.id.clone(),
            at: self.now,
            kind: kind.to_string(),
            author_id: author,
            text,
            data,
        }
    }

    /// A user setting: an id, `responsible` or `supervisor`.
    pub async fn resolve_user(&self, spec: &str) -> Result<String, ActionError> {
        match spec {
            RESPONSIBLE => Ok(self.item.responsible_id.clone()),
            SUPERVISOR => {
                let Some(u) = self.responsible else {
                    return fail(format!(
                        "responsible '{}' is unknown",
                        self.item.responsible_id
                    ));
                };
                match self.engine.supervisor_of(self.tenant, u).await? {
                    Some(s) => Ok(s),
                    None => fail(format!("'{}' has no supervisor", u.name)),
                }
            }
            id => Ok(id.to_string()),
        }
    }

    /// An optional user setting, `responsible` when absent.
    pub async fn user_or_responsible(&self, spec: Option<&str>) -> Result<String, ActionError> {
        self.resolve_user(spec.unwrap_or(RESPONSIBLE)).await
    }

    /// An optional user setting, none when absent.
    pub async fn opt_user(&self, spec: Option<&str>) -> Result<Option<String>, ActionError> {
        match spec {
            Some(s) => self.resolve_user(s).await.map(Some),
            None => Ok(None),
        }
    }

    /// User settings and the members of departments, without repeats.
    pub async fn resolve_users(
        &self,
        ids: &[String],
        departments: &[String],
    ) -> Result<Vec<String>, ActionError> {
        let mut out: Vec<String> = Vec::new();
        for spec in ids {
            let u = self.resolve_user(spec).await?;
            if !out.contains(&u) {
                out.push(u);
            }
        }
        for d in departments {
            let users: Vec<User> = self.engine.list(self.tenant, d).await?;
            for u in users {
                if !out.contains(&u.id) {
                    out.push(u.id);
                }
            }
        }
        Ok(out)
    }

    /// The departments a department setting reaches: the ones named and,
    /// unless `direct_only`, all their sub-departments (each once; the walk
    /// is cycle-safe and bounded by [`MAX_DEPARTMENT_DEPTH`] levels and
    /// [`MAX_DEPARTMENTS`] departments — beyond either the run fails with the
    /// reason rather than reach an arbitrary part of the tree).
    pub async fn department_tree(
        &self,
        named: &[String],
        direct_only: bool,
    ) -> Result<Vec<String>, ActionError> {
        let mut out: Vec<String> = Vec::new();
        for d in named {
            if !out.contains(d) {
                out.push(d.clone());
            }
        }
        if direct_only || out.is_empty() {
            return Ok(out);
        }
        let all: Vec<Department> = self.engine.list(self.tenant, DEPARTMENTS).await?;
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for d in &all {
            if let Some(p) = &d.parent_id {
                children.entry(p.as_str()).or_default().push(d.id.as_str());
            }
        }
        let mut seen: HashSet<String> = out.iter().cloned().collect();
        let mut level: Vec<String> = out.clone();
        for depth in 0.. {
            let mut next = Vec::new();
            for d in &level {
                for c in children.get(d.as_str()).into_iter().flatten() {
                    if seen.insert((*c).to_string()) {
                        next.push((*c).to_string());
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            if depth >= MAX_DEPARTMENT_DEPTH {
                return fail(format!(
                    "the departments {} have sub-departments more than {MAX_DEPARTMENT_DEPTH} levels deep",
                    named.join(", ")
                ));
            }
            out.extend(next.iter().cloned());
            if out.len() > MAX_DEPARTMENTS {
                return fail(format!(
                    "the departments {} and their sub-departments are more than {MAX_DEPARTMENTS}",
                    named.join(", ")
                ));
            }
            level = next;
        }
        Ok(out)
    }

    /// At most as many recipients as one transaction can notify.
    pub fn check_fanout(&self, n: usize) -> Result<(), ActionError> {
        let max = MAX_TRANSACTION_WRITES - 8;
        if n > max {
            return fail(format!("{n} recipients; at most {max} per robot"));
        }
        Ok(())
    }

    /// One notification per user.
    pub fn notify(&self, users: &[String], from: Option<String>, text: &str) -> Vec<Write> {
        users
            .iter()
            .map(|u| {
                let n = Notification {
                    id: self.id("ntf"),
                    user_id: u.clone(),
                    from_id: from.clone(),
                    text: text.to_string(),
                    item_id: Some(self.item.id.clone()),
                    at: self.now,
                };
                put(record_doc(self.tenant, &n, 1), Cond::Any)
            })
            .collect()
    }

    /// An outbound message of this run with no sender, subject or provider.
    pub fn message(&self, channel: Channel, to: String, body: String) -> Outbound {
        Outbound {
            id: self.id(channel.as_str()),
            tenant: self.tenant.to_string(),
            channel,
            to,
            from: None,
            subject: None,
            body,
            provider: None,
            item_id: Some(self.item.id.clone()),
            to_client: false,
            status: OutboundStatus::Queued,
            at: self.now,
            sent_at: None,
            attachments: Vec::new(),
            network: None,
            call: None,
            attempts: 0,
            last_error: None,
            provider_message_id: None,
            next_attempt_at: None,
            reply_to: None,
            run_id: Some(self.run.id.clone()),
        }
    }

    /// The email address or phone (by `channel`) of the employee a setting
    /// names (default: the item's responsible).
    pub async fn employee_contact(
        &self,
        spec: Option<&str>,
        channel: Channel,
    ) -> Result<String, ActionError> {
        let uid = self.user_or_responsible(spec).await?;
        let user = self.engine.user(self.tenant, &uid).await?;
        let contact = user.and_then(|u| match channel {
            Channel::Email => u.email,
            Channel::Sms | Channel::Call | Channel::Messenger => u.phone,
        });
        let what = if channel == Channel::Email {
            "email"
        } else {
            "phone"
        };
        contact.map_or_else(|| fail(format!("user '{uid}' has no {what}")), Ok)
    }

    /// Queue an outbound message: the message, its delivery (through the
    /// outbox), and for the client a timeline entry.
    pub fn outbound(&self, m: Outbound) -> Effect {
        let channel = m.channel;
        let mut writes = vec![
            put(record_doc(self.tenant, &m, 1), Cond::Any),
            self.engine.outbox_write(
                self.tenant,
                &format!("deliver|{}", m.id),
                &OutboxRecord::Deliver {
                    tenant: self.tenant.to_string(),
                    outbound_id: m.id.clone(),
                },
            ),
        ];
        if m.to_client {
            let what = match channel {
                Channel::Email => "Email",
                Channel::Sms => "SMS",
                Channel::Call => "Call",
                Channel::Messenger => "Message",
            };
            let via = m
                .network
                .as_deref()
                .map(|n| format!(" via {n}"))
                .unwrap_or_default();
            writes.push(self.timeline(
                &format!("{}_sent", channel.as_str()),
                None,
                format!("{what} sent to the client{via} ({})", m.to),
                serde_json::json!({"message_id": m.id}),
            ));
        }
        Effect::done(writes).output("message_id", m.id)
    }

    /// Writes that commit a changed item (version check, outbox, timeline).
    pub fn item_effect(
        &self,
        mut changed: Item,
        stage: Option<StageMove>,
        fields: Vec<String>,
        timeline: Vec<TimelineEntry>,
    ) -> Effect {
        changed.version = self.item.version + 1;
        changed.updated_at = self.now;
        if let Some(why) = crate::fields::item_too_large(&changed) {
            return Effect::ended(RunStatus::Failed, format!("failed: {why}"));
        }
        let change = ItemChange {
            tenant: self.tenant.to_string(),
            item_id: changed.id.clone(),
            version: changed.version,
            at: self.now,
            author_id: None,
            stage,
            responsible_changed: fields.iter().any(|f| f == "responsible_id"),
            changed: fields,
            deleted: false,
            chain: changed.chain.clone(),
            report: None,
        };
        let writes = self.engine.item_change_writes(
            self.tenant,
            Some(self.item),
            &changed,
            &change,
            timeline,
        );
        Effect {
            writes_item: true,
            ..Effect::done(writes)
        }
    }

    /// The chain of an automatic move this run makes, or `None` when the
    /// chain has made too many moves already.
    pub fn next_hop(&self) -> Option<crate::model::Chain> {
        let hops = self.run.chain.hops + 1;
        (hops <= self.engine.config.max_hops).then(|| crate::model::Chain {
            id: self.run.chain.id.clone(),
            hops,
        })
    }

    /// The run's record when loop protection stops a move to `target`.
    pub fn loop_stopped(&self, target: &str) -> Effect {
        Effect::ended(
            RunStatus::LoopStopped,
            format!(
                "loop stopped: chain {} already made {} automatic moves (limit {}); not moving to '{target}'",
                self.run.chain.id, self.run.chain.hops, self.engine.config.max_hops
            ),
        )
    }
}
