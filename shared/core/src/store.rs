//! The typed record layer over the [`DocStore`](crate::ports::DocStore):
//! engine records to documents and back, the writes the engine makes, and
//! derived ids. Each stored type declares its [`Kind`], id and list parent
//! once, as a [`Record`]. A stored document that cannot be read as its record is a
//! [`EngineError::Corrupt`], not a transient store error.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{EngineError, Result};
use crate::model::{
    Activity, Chat, Department, EventRecord, FeedPost, Item, Message, Notification, Outbound,
    Pipeline, RunRecord, Task, TimelineEntry, User,
};
use crate::ports::{Cond, Doc, DocKey, Kind, Write};
use crate::robots::Robot;
use crate::triggers::Trigger;

pub(crate) fn doc<T: Serialize>(
    tenant: &str,
    kind: Kind,
    id: &str,
    version: u64,
    parent: Option<&str>,
    body: &T,
) -> Doc {
    Doc {
        key: DocKey::new(tenant, kind, id),
        version,
        parent: parent.map(str::to_string),
        expires_at: None,
        body: serde_json::to_value(body).expect("engine records serialize"),
    }
}

pub(crate) fn put(doc: Doc, cond: Cond) -> Write {
    Write::Put { doc, cond }
}

/// The condition of an optimistic write of a document read at `version`
/// (0 = it did not exist).
pub(crate) fn cond_for(version: u64) -> Cond {
    if version == 0 {
        Cond::Absent
    } else {
        Cond::Version(version)
    }
}

/// The parent every department is listed under: one list of a tenant's
/// departments, read to find sub-departments.
pub const DEPARTMENTS: &str = "all";

/// The parent every chat is listed under (`GET /v1/chats`).
pub const CHATS: &str = "chats";

// Timeline ids sort in the order things happened (lists are in id order):
// `{millis:013}-{version:012}-{k:09}-{sub:03}-{suffix}` — by time, then by a
// per-item sequence, then by the entry's position `sub` in its transaction.
// The sequence is (item version, k): a transaction that writes the item
// numbers its entries with the version it writes and k = 0; one that only
// adds entries (a robot's comment, a task completed) checks the item's
// version v, numbers them (v, k ≥ 1) and takes k from the item's
// [`TimelineCounter`] in the same transaction. The item's version is not
// changed by its timeline.

/// The id of an entry written with the item at `version` (k = 0).
pub(crate) fn timeline_id(at: DateTime<Utc>, version: u64, sub: usize, suffix: &str) -> String {
    slot_id(at, version, 0, sub, suffix)
}

fn slot_id(at: DateTime<Utc>, version: u64, k: u64, sub: usize, suffix: &str) -> String {
    format!(
        "{:013}-{version:012}-{k:09}-{sub:03}-{suffix}",
        at.timestamp_millis().max(0)
    )
}

/// The id of an entry that follows up the item write at `version` without
/// writing anything of the item (activities completed as a visit ends):
/// after the entries of that write, before any written after it.
pub(crate) fn follow_up_timeline_id(at: DateTime<Utc>, version: u64, suffix: &str) -> String {
    format!(
        "{:013}-{version:012}-{:09}~{suffix}",
        at.timestamp_millis().max(0),
        0
    )
}

/// Per item: the last (version, k) of entries written without the item,
/// and the item's current visit.
///
/// `visit` (issue #11) makes the counter a guard of the visit: every write
/// that starts a new visit or deletes the item also writes the counter
/// ([`visit_counter_write`]), at a document version no earlier write of it
/// can have had. So a run whose commit writes the counter conditionally (it
/// added timeline entries) and read it with the run's visit needs no check
/// of the item's version: its condition fails if the visit ended since.
/// Counters written before the change, or never written since, have no
/// visit: such runs check the item's version as before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct TimelineCounter {
    pub version: u64,
    pub k: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<u64>,
}

/// The key of an item's [`TimelineCounter`].
pub(crate) fn timeline_counter_key(tenant: &str, item_id: &str) -> DocKey {
    DocKey::new(tenant, Kind::Counter, format!("timeline:{item_id}"))
}

/// The document version a visit change gives the counter: the visit in the
/// high 32 bits. Writes of entries add 1 to the version they read, so within
/// one visit the counter stays below the next visit's epoch (4 billion
/// entries per visit), and versions written before the change (small
/// numbers) are below every epoch.
fn visit_epoch(visit: u64) -> u64 {
    visit.saturating_mul(1 << 32)
}

/// The last visit of a deleted item, read from its counter: deleting writes
/// the counter at the epoch of the visit after the last one, with no visit
/// ([`visit_counter_write`]). `None` for a counter that was not closed that
/// way (the item lives, or was deleted before counters carried visits).
pub(crate) fn closed_visit(counter: &Doc) -> Option<u64> {
    let c = decode::<TimelineCounter>(counter).ok()?;
    let epoch = counter.version >> 32;
    (c.visit.is_none() && epoch >= 1).then(|| epoch - 1)
}

/// The counter write that goes with a write of `item` starting a new visit
/// (or, `deleted`, deleting it): unconditional (the item's own conditional
/// write orders visit changes), at the new visit's epoch, so every run that
/// read the counter before fails its condition on it. The item's entries of
/// that write are at (its version, k = 0); the next counter entry gets k = 1.
pub(crate) fn visit_counter_write(tenant: &str, item: &Item, deleted: bool) -> Write {
    let c = TimelineCounter {
        version: item.version,
        k: 0,
        visit: (!deleted).then_some(item.visit),
    };
    let epoch = visit_epoch(item.visit + u64::from(deleted));
    let id = format!("timeline:{}", item.id);
    put(doc(tenant, Kind::Counter, &id, epoch, None, &c), Cond::Any)
}

/// Does the item's counter, as read, guard the visit `item` is in? (It
/// carries that visit: a conditional write of it fails if the visit ends.)
pub(crate) fn counter_guards_visit(item: &Item, counter: Option<&Doc>) -> bool {
    counter
        .and_then(|d| decode::<TimelineCounter>(d).ok())
        .and_then(|c| c.visit)
        == Some(item.visit)
}

/// Where the entries of a transaction that does not write the item go:
/// after everything written so far at the item's version.
#[derive(Debug)]
pub(crate) struct TimelineSlots {
    item_id: String,
    version: u64,
    k: u64,
    /// The counter's stored version (0 = none yet); `None`: the item is
    /// gone, nothing is counted.
    counter_version: Option<u64>,
    /// The visit the counter carries (kept by its writes).
    visit: Option<u64>,
}

impl TimelineSlots {
    /// For the item at `item_version`, with its counter document as read.
    /// An item read before the counter's last write (an older version than
    /// the counter's) numbers its entries after the counter's.
    pub(crate) fn new(item_id: &str, item_version: u64, counter: Option<&Doc>) -> Result<Self> {
        let (c, cv) = match counter {
            Some(d) => (decode::<TimelineCounter>(d)?, d.version),
            None => (TimelineCounter::default(), 0),
        };
        let version = item_version.max(c.version);
        let k = if c.version == version { c.k + 1 } else { 1 };
        Ok(TimelineSlots {
            item_id: item_id.to_string(),
            version,
            k,
            counter_version: Some(cv),
            visit: c.visit,
        })
    }

    /// For entries of a deleted item (its task completed later): after
    /// everything the item wrote.
    pub(crate) fn after_deletion(item_id: &str) -> Self {
        TimelineSlots {
            item_id: item_id.to_string(),
            version: 999_999_999_999,
            k: 0,
            counter_version: None,
            visit: None,
        }
    }

    /// The id of the entry at position `sub` of the transaction.
    pub(crate) fn id(&self, at: DateTime<Utc>, sub: usize, suffix: &str) -> String {
        slot_id(at, self.version, self.k, sub, suffix)
    }

    /// The counter write that goes with the entries (a conditional write:
    /// two transactions cannot take the same k).
    pub(crate) fn counter_write(&self, tenant: &str) -> Option<Write> {
        let cv = self.counter_version?;
        let c = TimelineCounter {
            version: self.version,
            k: self.k,
            visit: self.visit,
        };
        let id = format!("timeline:{}", self.item_id);
        Some(put(
            doc(tenant, Kind::Counter, &id, cv + 1, None, &c),
            cond_for(cv),
        ))
    }
}

pub(crate) fn timeline_write(tenant: &str, e: &TimelineEntry) -> Write {
    put(
        doc(tenant, Kind::Timeline, &e.id, 1, Some(&e.item_id), e),
        Cond::Any,
    )
}

pub(crate) fn decode<T: DeserializeOwned>(d: &Doc) -> Result<T> {
    // Deserialize from the borrowed value: no deep copy of the body.
    T::deserialize(&d.body).map_err(|e| EngineError::Corrupt(format!("{}: {e}", d.key)))
}

/// A type the engine stores as documents of one [`Kind`].
pub trait Record: Serialize + DeserializeOwned {
    const KIND: Kind;
    /// Its document id.
    fn id(&self) -> &str;
    /// The parent it is listed under, if it is listed.
    fn parent(&self) -> Option<Cow<'_, str>> {
        None
    }
}

/// The document of a record at `version`.
pub(crate) fn record_doc<R: Record>(tenant: &str, r: &R, version: u64) -> Doc {
    doc(tenant, R::KIND, r.id(), version, r.parent().as_deref(), r)
}

/// Declares [`Record`]s: `Type: Kind, id field, parent expression`.
macro_rules! records {
    ($($ty:ty: $kind:ident, $id:ident, |$s:ident| $parent:expr;)+) => {
        $(
            impl Record for $ty {
                const KIND: Kind = Kind::$kind;
                fn id(&self) -> &str {
                    &self.$id
                }
                fn parent(&self) -> Option<Cow<'_, str>> {
                    let $s = self;
                    $parent
                }
            }
        )+
    };
}

/// An index entry of a robot run that is not final yet, listed under its
/// robot: written with the run record when a visit is planned, deleted in
/// the transaction that makes the run final. Deleting a robot lists its
/// pending runs here instead of scanning items.
///
/// Only runs that wait have one ([`indexed`]): a run due at once (an
/// immediate robot) is queued when it is planned and run within moments; if
/// its robot is deleted meanwhile, the runner finds the robot gone and
/// cancels the run itself (`ROBOT_DELETED`). Leaving it out saves the entry's
/// put at planning and its delete at the commit (issue #11).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct PendingRun {
    pub run_id: String,
    pub item_id: String,
    pub robot_id: String,
}

/// Does this run have an entry in its robot's index of pending runs? Every
/// robot run except one planned due at once: due when it was created and
/// not waiting for a previous robot. Derived from the record (no field of its
/// own), so planning and every later write agree; a "run now" that makes a
/// waiting run look like that removes its entry ([`pending_unindex`]).
pub(crate) fn indexed(run: &RunRecord) -> bool {
    run.after_run.is_some() || run.due_at != Some(run.created_at)
}

/// The index entry of a planned run (`None` for a run that is final already,
/// or one due at once: see [`indexed`]).
pub(crate) fn pending_put(tenant: &str, run: &RunRecord) -> Option<Write> {
    let robot_id = run.robot_id.clone()?;
    (!run.status.is_final() && indexed(run)).then(|| {
        let p = PendingRun {
            run_id: run.id.clone(),
            item_id: run.item_id.clone(),
            robot_id,
        };
        put(record_doc(tenant, &p, 1), Cond::Any)
    })
}

/// Removes the index entry of a run that became final (nothing for a run
/// that has none).
pub(crate) fn pending_delete(tenant: &str, run: &RunRecord) -> Option<Write> {
    if !indexed(run) {
        return None;
    }
    pending_unindex(tenant, run)
}

/// Removes the run's index entry whether or not [`indexed`] says it has one
/// (for a write that changes what [`indexed`] says).
pub(crate) fn pending_unindex(tenant: &str, run: &RunRecord) -> Option<Write> {
    let robot_id = run.robot_id.clone()?;
    Some(Write::Delete {
        key: DocKey::new(tenant, Kind::PendingRun, &run.id),
        parent: Some(robot_id),
        cond: Cond::Any,
    })
}

records! {
    // All of a tenant's departments are listed together (to walk the tree).
    Department: Department, id, |_d| Some(Cow::Borrowed(DEPARTMENTS));
    // Listed per department (for department recipients).
    User: User, id, |u| Some(Cow::Borrowed(u.department_id.as_deref().unwrap_or("")));
    Pipeline: Pipeline, id, |_p| None;
    Robot: Robot, id, |r| Some(Cow::Borrowed(&r.pipeline_id));
    Trigger: Trigger, id, |t| Some(Cow::Borrowed(&t.pipeline_id));
    // Listed per pipeline (the kanban; an item never changes pipeline).
    Item: Item, id, |i| Some(Cow::Borrowed(&i.pipeline_id));
    RunRecord: Run, id, |r| Some(Cow::Borrowed(&r.item_id));
    Task: Task, id, |t| Some(Cow::Borrowed(&t.item_id));
    Activity: Activity, id, |a| Some(Cow::Borrowed(&a.item_id));
    Notification: Notification, id, |n| Some(Cow::Borrowed(&n.user_id));
    // All of a tenant's chats are listed together (`GET /v1/chats`).
    Chat: Chat, id, |_c| Some(Cow::Borrowed(CHATS));
    // Listed per chat, or per recipient for direct messages.
    Message: Message, id, |m| Some(Cow::Owned(match (&m.chat_id, &m.recipient_id) {
        (Some(c), _) => format!("chat:{c}"),
        (None, r) => format!("user:{}", r.as_deref().unwrap_or_default()),
    }));
    FeedPost: FeedPost, id, |_p| Some(Cow::Borrowed("feed"));
    Outbound: Outbound, id, |m| Some(Cow::Borrowed(m.channel.as_str()));
    TimelineEntry: Timeline, id, |e| Some(Cow::Borrowed(&e.item_id));
    EventRecord: Event, event_id, |_e| None;
    PendingRun: PendingRun, run_id, |p| Some(Cow::Borrowed(&p.robot_id));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(chat: Option<&str>, to: Option<&str>) -> Message {
        serde_json::from_value(json!({
            "id": "m1", "chat_id": chat, "sender_id": "u1", "recipient_id": to,
            "message_type": "general", "text": "hi", "item_id": null,
            "at": "2026-12-01T10:00:00Z",
        }))
        .unwrap()
    }

    #[test]
    fn a_record_is_stored_under_its_kind_and_listed_under_its_parent() {
        let d = record_doc("t", &message(Some("c1"), None), 3);
        assert_eq!(d.key, DocKey::new("t", Kind::Message, "m1"));
        assert_eq!((d.version, d.parent.as_deref()), (3, Some("chat:c1")));
        let d = record_doc("t", &message(None, Some("u2")), 1);
        assert_eq!(d.parent.as_deref(), Some("user:u2"));
    }

    #[test]
    fn a_document_that_is_not_its_record_is_corrupt_not_unavailable() {
        let d = record_doc("t", &message(None, Some("u2")), 1);
        let err = decode::<Department>(&d).unwrap_err();
        assert!(
            matches!(err, EngineError::Corrupt(ref m) if m.contains("m1")),
            "{err}"
        );
    }
}
