//! In-memory implementations of every port: the reference semantics that the
//! contract suite also checks on the embedded and AWS adapters, and the fakes
//! that the engine's tests run on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{Outbound, QueuedEvent};
use crate::ports::{
    Clock, Cond, Delivered, Delivery, Doc, DocKey, DocStore, EventQueue, IdGen, Job, JobQueue,
    Kind, MAX_TRANSACTION_WRITES, PortError, Scheduler, StoreError, Write,
};
use crate::work_source::{DueJobs, EventSeq, QueuedEvents};

/// Check a transaction's shape: at most [`MAX_TRANSACTION_WRITES`], one write per key.
pub fn check_transaction(writes: &[Write]) -> Result<(), StoreError> {
    check_transaction_of(writes, MAX_TRANSACTION_WRITES)
}

/// [`check_transaction`] for a group commit of at most `limit` writes
/// ([`crate::ports::DocStore::transact_group`]).
pub fn check_transaction_of(writes: &[Write], limit: usize) -> Result<(), StoreError> {
    if writes.len() > limit {
        return Err(StoreError::Invalid(format!(
            "{} writes in one transaction (max {limit})",
            writes.len()
        )));
    }
    let mut seen = HashSet::with_capacity(writes.len());
    for w in writes {
        if !seen.insert(w.key()) {
            return Err(StoreError::Invalid(format!("{} written twice", w.key())));
        }
        check_named_parent(w)?;
    }
    Ok(())
}

/// A document whose id names its parent ([`Kind::parent_of_id`]) is put
/// and deleted with exactly that parent.
fn check_named_parent(w: &Write) -> Result<(), StoreError> {
    let (key, parent) = match w {
        Write::Put { doc, .. } => (&doc.key, doc.parent.as_deref()),
        Write::Delete { key, parent, .. } => (key, parent.as_deref()),
        Write::Check { .. } => return Ok(()),
    };
    match key.kind.parent_of_id(&key.id) {
        Some(named) if parent != Some(named) => Err(StoreError::Invalid(format!(
            "{key}: its id names the parent {named:?}, written with {parent:?}"
        ))),
        _ => Ok(()),
    }
}

/// Does `cond` hold for a document currently at `current` (None = absent)?
pub fn cond_holds(cond: Cond, current: Option<u64>) -> bool {
    match cond {
        Cond::Any => true,
        Cond::Absent => current.is_none(),
        Cond::Version(v) => current == Some(v),
    }
}

/// Document store in a `BTreeMap`.
#[derive(Default)]
pub struct MemStore {
    docs: Mutex<BTreeMap<DocKey, Doc>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of stored documents of one kind (all tenants).
    pub fn count(&self, kind: Kind) -> usize {
        self.docs
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.kind == kind)
            .count()
    }
    /// The stored documents of one kind (all tenants), in key order.
    pub fn docs(&self, kind: Kind) -> Vec<Doc> {
        self.docs
            .lock()
            .unwrap()
            .values()
            .filter(|d| d.key.kind == kind)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl DocStore for MemStore {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        Ok(self.docs.lock().unwrap().get(key).cloned())
    }

    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        let docs = self.docs.lock().unwrap();
        let start = DocKey::new(tenant, kind, "");
        Ok(docs
            .range(start..)
            .take_while(|(k, _)| k.tenant == tenant && k.kind == kind)
            .filter(|(_, d)| d.parent.as_deref() == Some(parent))
            .map(|(_, d)| d.clone())
            .collect())
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        let mut docs = self.docs.lock().unwrap();
        for w in &writes {
            let (key, cond) = match w {
                Write::Put { doc, cond } => (&doc.key, *cond),
                Write::Delete { key, cond, .. } | Write::Check { key, cond } => (key, *cond),
            };
            if !cond_holds(cond, docs.get(key).map(|d| d.version)) {
                return Err(StoreError::Conflict {
                    key: key.to_string(),
                });
            }
        }
        for w in writes {
            match w {
                Write::Put { doc, .. } => {
                    docs.insert(doc.key.clone(), doc);
                }
                Write::Delete { key, .. } => {
                    docs.remove(&key);
                }
                Write::Check { .. } => {}
            }
        }
        Ok(())
    }

    /// As SQLite's purge: the documents past their `expires_at`, at most
    /// `limit` of them, in key order.
    async fn purge_expired(&self, now_epoch_secs: i64, limit: usize) -> Result<usize, StoreError> {
        let mut docs = self.docs.lock().unwrap();
        let expired: Vec<DocKey> = docs
            .values()
            .filter(|d| d.expires_at.is_some_and(|t| t < now_epoch_secs))
            .take(limit)
            .map(|d| d.key.clone())
            .collect();
        for k in &expired {
            docs.remove(k);
        }
        Ok(expired.len())
    }
}

/// Queue + scheduler in one: jobs ordered by due time, de-duplicated by
/// schedule name for scheduled ones (like EventBridge's unique names).
///
/// Consumed either with [`MemJobs::pop_due`] (removes at once) or through
/// [`DueJobs`] (taken jobs stay stored until acked).
#[derive(Default)]
pub struct MemJobs {
    inner: Mutex<MemJobsInner>,
}

/// Where a job sits in [`MemJobs`]' queue: (due, seq).
type QueueKey = (DateTime<Utc>, u64);

#[derive(Default)]
struct MemJobsInner {
    /// (due, seq) → job
    queue: BTreeMap<(DateTime<Utc>, u64), Job>,
    scheduled: HashMap<String, (DateTime<Utc>, u64)>,
    /// Jobs taken through [`DueJobs::take_due`] and not acked: schedule name →
    /// their queue keys.
    taken: HashMap<String, Vec<(DateTime<Utc>, u64)>>,
    seq: u64,
    sent: u64,
    schedules_created: u64,
    schedules_cancelled: u64,
}

impl MemJobs {
    pub fn new() -> Self {
        Self::default()
    }
    /// Take the earliest job due at or before `now`.
    pub fn pop_due(&self, now: DateTime<Utc>) -> Option<Job> {
        let mut g = self.inner.lock().unwrap();
        let (&k, _) = g.queue.iter().next()?;
        if k.0 > now {
            return None;
        }
        let job = g.queue.remove(&k)?;
        let name = job.schedule_name();
        if g.scheduled.get(&name) == Some(&k) {
            g.scheduled.remove(&name);
        }
        if let Some(keys) = g.taken.get_mut(&name) {
            keys.retain(|t| *t != k);
            if keys.is_empty() {
                g.taken.remove(&name);
            }
        }
        Some(job)
    }
    /// Due time of the earliest job.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.inner.lock().unwrap().queue.keys().next().map(|k| k.0)
    }
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().queue.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Is a timer for this run currently scheduled?
    pub fn is_scheduled(&self, tenant: &str, run_id: &str) -> bool {
        self.inner
            .lock()
            .unwrap()
            .scheduled
            .contains_key(&crate::ports::schedule_name(tenant, run_id))
    }
    /// (messages sent, schedules created, schedules cancelled) so far.
    pub fn counters(&self) -> (u64, u64, u64) {
        let g = self.inner.lock().unwrap();
        (g.sent, g.schedules_created, g.schedules_cancelled)
    }
}

#[async_trait]
impl JobQueue for MemJobs {
    async fn send(&self, jobs: Vec<Job>) -> Result<(), PortError> {
        let mut g = self.inner.lock().unwrap();
        for job in jobs {
            g.seq += 1;
            g.sent += 1;
            let k = (job.due_at, g.seq);
            g.queue.insert(k, job);
        }
        Ok(())
    }
}

#[async_trait]
impl Scheduler for MemJobs {
    async fn schedule(&self, job: Job) -> Result<(), PortError> {
        let mut g = self.inner.lock().unwrap();
        let name = job.schedule_name();
        if g.scheduled.contains_key(&name) {
            return Ok(());
        }
        g.seq += 1;
        g.schedules_created += 1;
        let k = (job.due_at, g.seq);
        g.scheduled.insert(name, k);
        g.queue.insert(k, job);
        Ok(())
    }

    async fn cancel(&self, tenant: &str, run_id: &str) -> Result<(), PortError> {
        let mut g = self.inner.lock().unwrap();
        if let Some(k) = g
            .scheduled
            .remove(&crate::ports::schedule_name(tenant, run_id))
        {
            g.queue.remove(&k);
            g.schedules_cancelled += 1;
        }
        Ok(())
    }
}

impl DueJobs for MemJobs {
    fn take_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Job>, PortError> {
        let mut g = self.inner.lock().unwrap();
        let g = &mut *g;
        let mut out = Vec::new();
        for (&k, job) in g.queue.iter().take_while(|(k, _)| k.0 <= now).take(limit) {
            let name = job.schedule_name();
            // Taken: no longer a timer (cancel leaves it, a new schedule adds one).
            if g.scheduled.get(&name) == Some(&k) {
                g.scheduled.remove(&name);
            }
            let keys = g.taken.entry(name).or_default();
            if !keys.contains(&k) {
                keys.push(k);
            }
            out.push(job.clone());
        }
        Ok(out)
    }

    fn take_due_fair(
        &self,
        now: DateTime<Utc>,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<Job>, PortError> {
        let mut g = self.inner.lock().unwrap();
        let g = &mut *g;
        let mut groups: Vec<Vec<(QueueKey, Job)>> = Vec::new();
        let mut group_of: HashMap<&str, usize> = HashMap::new();
        for (&k, job) in g.queue.iter().take_while(|(k, _)| k.0 <= now) {
            let i = *group_of.entry(job.tenant.as_str()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            if groups[i].len() < per_tenant {
                groups[i].push((k, job.clone()));
            }
        }
        let mut out = Vec::new();
        for (k, job) in crate::work_source::round_robin(groups, limit) {
            let name = job.schedule_name();
            if g.scheduled.get(&name) == Some(&k) {
                g.scheduled.remove(&name);
            }
            let keys = g.taken.entry(name).or_default();
            if !keys.contains(&k) {
                keys.push(k);
            }
            out.push(job);
        }
        Ok(out)
    }

    fn ack(&self, job: &Job) -> Result<(), PortError> {
        let mut g = self.inner.lock().unwrap();
        let name = job.schedule_name();
        match g.taken.remove(&name) {
            Some(keys) => {
                for k in keys {
                    g.queue.remove(&k);
                }
            }
            None => {
                g.queue.retain(|_, j| j.schedule_name() != name);
                g.scheduled.remove(&name);
            }
        }
        Ok(())
    }

    fn next_due(&self) -> Result<Option<DateTime<Utc>>, PortError> {
        Ok(MemJobs::next_due(self))
    }

    fn stored(&self) -> Result<usize, PortError> {
        Ok(self.len())
    }

    fn parked(&self) -> Result<usize, PortError> {
        Ok(0)
    }
}

/// FIFO of events.
///
/// Consumed either with [`MemEvents::pop`] (removes at once) or through
/// [`QueuedEvents`] (taken events stay stored until acked).
#[derive(Default)]
pub struct MemEvents {
    inner: Mutex<MemEventsInner>,
}

#[derive(Default)]
struct MemEventsInner {
    /// Stored events with their receipts, oldest first.
    queue: std::collections::VecDeque<(EventSeq, QueuedEvent)>,
    /// Last receipt handed out.
    seq: EventSeq,
}

impl MemEvents {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn pop(&self) -> Option<QueuedEvent> {
        self.inner.lock().unwrap().queue.pop_front().map(|(_, e)| e)
    }
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().queue.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl EventQueue for MemEvents {
    async fn send(&self, event: QueuedEvent) -> Result<(), PortError> {
        let mut g = self.inner.lock().unwrap();
        g.seq += 1;
        let seq = g.seq;
        g.queue.push_back((seq, event));
        Ok(())
    }
}

impl QueuedEvents for MemEvents {
    fn take(&self, limit: usize) -> Result<Vec<(EventSeq, QueuedEvent)>, PortError> {
        let g = self.inner.lock().unwrap();
        Ok(g.queue.iter().take(limit).cloned().collect())
    }

    fn take_fair(
        &self,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<(EventSeq, QueuedEvent)>, PortError> {
        let g = self.inner.lock().unwrap();
        let mut groups: Vec<Vec<(EventSeq, QueuedEvent)>> = Vec::new();
        let mut group_of: HashMap<&str, usize> = HashMap::new();
        for (seq, event) in &g.queue {
            let i = *group_of.entry(event.tenant.as_str()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            if groups[i].len() < per_tenant {
                groups[i].push((*seq, event.clone()));
            }
        }
        Ok(crate::work_source::round_robin(groups, limit))
    }

    fn ack(&self, seq: EventSeq) -> Result<(), PortError> {
        let mut g = self.inner.lock().unwrap();
        // Receipts increase along the queue.
        if let Ok(i) = g.queue.binary_search_by_key(&seq, |(s, _)| *s) {
            g.queue.remove(i);
        }
        Ok(())
    }

    fn stored(&self) -> Result<usize, PortError> {
        Ok(self.len())
    }

    fn parked(&self) -> Result<usize, PortError> {
        Ok(0)
    }
}

/// Delivery that remembers what it delivered (once per message id), counts
/// every call, and fails calls from a script ([`MemDelivery::fail_next`]).
#[derive(Default)]
pub struct MemDelivery {
    delivered: Mutex<Vec<Outbound>>,
    calls: Mutex<Vec<String>>,
    script: Mutex<std::collections::VecDeque<PortError>>,
    files: Mutex<std::collections::HashMap<String, Vec<crate::outbound::files::OutboundFile>>>,
}

impl MemDelivery {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn delivered(&self) -> Vec<Outbound> {
        self.delivered.lock().unwrap().clone()
    }
    /// The ids of the messages of every call, failed ones included, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    /// The next calls fail with these errors, in order (then calls succeed).
    pub fn fail_next(&self, errors: Vec<PortError>) {
        self.script.lock().unwrap().extend(errors);
    }
    /// The files the delivered message `id` carried.
    pub fn files_of(&self, id: &str) -> Vec<crate::outbound::files::OutboundFile> {
        self.files
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl Delivery for MemDelivery {
    async fn deliver(&self, message: &Outbound) -> Result<Delivered, PortError> {
        self.calls.lock().unwrap().push(message.id.clone());
        if let Some(e) = self.script.lock().unwrap().pop_front() {
            return Err(e);
        }
        let mut d = self.delivered.lock().unwrap();
        if !d.iter().any(|m| m.id == message.id) {
            d.push(message.clone());
        }
        Ok(Delivered {
            provider_message_id: Some(format!("mem-{}", message.id)),
        })
    }

    async fn deliver_with_files(
        &self,
        message: &Outbound,
        files: &[crate::outbound::files::OutboundFile],
    ) -> Result<Delivered, PortError> {
        let got = self.deliver(message).await?;
        if !files.is_empty() {
            self.files
                .lock()
                .unwrap()
                .insert(message.id.clone(), files.to_vec());
        }
        Ok(got)
    }
}

/// A clock that moves only when told to.
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap() = t;
    }
    pub fn advance(&self, d: chrono::Duration) -> DateTime<Utc> {
        let mut g = self.now.lock().unwrap();
        *g += d;
        *g
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }
}

/// Sequential ids: `{prefix}-{n}`, starting at 1.
#[derive(Default)]
pub struct SeqIds {
    next: AtomicU64,
}

impl SeqIds {
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGen for SeqIds {
    fn next_id(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{prefix}-{n}")
    }
}

/// Ports over `store`, with `clock` and a fresh in-memory adapter for
/// everything else: for tests and benches that put the engine on another
/// store (SQLite, DynamoDB) and drive queues and time themselves.
pub fn ports_on(
    store: std::sync::Arc<dyn crate::ports::DocStore>,
    clock: std::sync::Arc<ManualClock>,
) -> crate::ports::Ports {
    use std::sync::Arc;
    let jobs = Arc::new(MemJobs::new());
    crate::ports::Ports {
        store,
        jobs: jobs.clone(),
        scheduler: jobs,
        events: Arc::new(MemEvents::new()),
        delivery: Arc::new(MemDelivery::new()),
        clock,
        ids: Arc::new(SeqIds::new()),
        blobs: Arc::new(crate::memory_blobs::MemoryBlobs::new()),
        http: Arc::new(crate::memory_http::MemHttp::new()),
    }
}

/// The whole engine on in-memory ports with a manual clock: what the
/// scenario tests and benchmarks drive.
pub struct MemRuntime {
    pub engine: crate::Engine,
    pub store: std::sync::Arc<MemStore>,
    pub jobs: std::sync::Arc<MemJobs>,
    pub events: std::sync::Arc<MemEvents>,
    pub delivery: std::sync::Arc<MemDelivery>,
    pub clock: std::sync::Arc<ManualClock>,
    pub blobs: std::sync::Arc<crate::memory_blobs::MemoryBlobs>,
    /// Outbound HTTP (webhooks): recorded, answered from a script.
    pub http: std::sync::Arc<crate::memory_http::MemHttp>,
}

impl MemRuntime {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self::with_config(start, crate::EngineConfig::default())
    }

    pub fn with_config(start: DateTime<Utc>, config: crate::EngineConfig) -> Self {
        use std::sync::Arc;
        let store = Arc::new(MemStore::new());
        let jobs = Arc::new(MemJobs::new());
        let events = Arc::new(MemEvents::new());
        let delivery = Arc::new(MemDelivery::new());
        let clock = Arc::new(ManualClock::new(start));
        let blobs = Arc::new(crate::memory_blobs::MemoryBlobs::new());
        let http = Arc::new(crate::memory_http::MemHttp::new());
        let ports = crate::ports::Ports {
            store: store.clone(),
            jobs: jobs.clone(),
            scheduler: jobs.clone(),
            events: events.clone(),
            delivery: delivery.clone(),
            clock: clock.clone(),
            ids: Arc::new(SeqIds::new()),
            blobs: blobs.clone(),
            http: http.clone(),
        };
        MemRuntime {
            engine: crate::Engine::new(ports, config),
            store,
            jobs,
            events,
            delivery,
            clock,
            blobs,
            http,
        }
    }

    /// Run all queued work that is due now (outbox, events, due jobs) until
    /// nothing is left. Returns how many steps ran.
    pub async fn settle(&self) -> crate::error::Result<usize> {
        let mut steps = 0;
        loop {
            let mut progressed = false;
            for d in self.engine.pending_outbox().await? {
                self.engine.process_outbox(d).await?;
                progressed = true;
                steps += 1;
            }
            while let Some(e) = self.events.pop() {
                self.engine.handle_event(e).await?;
                progressed = true;
                steps += 1;
            }
            while let Some(j) = self.jobs.pop_due(self.clock.now()) {
                self.engine.run_job(j).await?;
                progressed = true;
                steps += 1;
            }
            if !progressed {
                return Ok(steps);
            }
        }
    }

    /// Move time forward by `d`, running every job at its own due time, in
    /// due order (so timestamps and follow-up delays are exact).
    pub async fn advance(&self, d: chrono::Duration) -> crate::error::Result<()> {
        let target = self.clock.now() + d;
        self.settle().await?;
        while let Some(due) = self.jobs.next_due() {
            if due > target {
                break;
            }
            if due > self.clock.now() {
                self.clock.set(due);
            }
            self.settle().await?;
        }
        self.clock.set(target);
        self.settle().await?;
        Ok(())
    }
}
