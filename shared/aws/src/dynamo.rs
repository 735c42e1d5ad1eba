//! [`DocStore`] on one DynamoDB table.
//!
//! # Layout
//!
//! String keys `pk` (partition) and `sk` (sort).
//!
//! - Primary record of a document: `pk = {tenant}#{kind}#{id}`, `sk = _`.
//! - List entry of a document with a parent: `pk = {tenant}#{kind}@{parent}`,
//!   `sk = {id}`, written in the same transaction as the primary record, so
//!   that [`DocStore::list`] is one strongly consistent `Query` (GSIs are only
//!   eventually consistent; the engine needs read-your-writes on `list`).
//!
//! Both carry the attributes `tenant`, `kind`, `id`, `version` (N), `parent`
//! (if any), `expires_at` (N, the table's TTL attribute, if any) and `body`
//! (S, the document's JSON text; B, that text DEFLATE-compressed, for a body
//! of 256 bytes or more other than an outbox record's: see
//! [`crate::body_codec`]). In the tenant part of the keys `%` and `#`
//! are percent-escaped, so keys cannot collide across tenants.
//!
//! A document of a list-only kind ([`Kind::list_only`]: an index or a log,
//! never read by key, written unconditionally) is stored once, as its list
//! entry.
//!
//! A document whose id names its parent ([`Kind::parent_of_id`]: a run,
//! `{item}:{visit}:{robot}`) is stored once too, as its list entry
//! ([`stored_once`]): its key alone says where the entry is, so `get` reads
//! it there ([`record_key`]), its conditions apply to it, and it has no
//! parent guard (its parent never changes). Records written before (a
//! primary record and its list entry, written together, so the entry is a
//! copy) are read, listed, updated and deleted through their entry; a
//! primary record whose entry is gone (expired first) is still read by key
//! (a second read, only when the entry is missing), a versioned write or
//! check on it is retried on it and moves it to its entry, and a delete
//! removes the primary record too.
//!
//! Conditions apply to the primary record (the list entry, for documents
//! stored once). The table's stream (NEW_IMAGE)
//! feeds the stage-change function; [`doc_from_stream_image`] decodes a
//! record's new image.
//!
//! # Parent changes without reads
//!
//! A put writes the list entry under the document's new parent; the port does
//! not say what the stored parent was. So the primary record's condition also
//! asserts the stored parent ("guard"): first that it is the new one (puts) or
//! the named one (deletes). If only the guard fails, the record returned by
//! the failed condition (`ReturnValuesOnConditionCheckFailure = ALL_OLD`, or a
//! consistent read if the backend returns none) names the real parent and the
//! transaction is retried once with the old list entry deleted too. The common
//! case (parent unchanged: the engine never changes one) costs nothing extra.
//!
//! # Errors
//!
//! - A failed condition → [`StoreError::Conflict`].
//! - Throttling and transaction contention (`ProvisionedThroughputExceeded`,
//!   `Throttling`, `RequestLimitExceeded`, `TransactionConflict`, and a
//!   `TransactionCanceledException` whose reasons are `ThrottlingError`,
//!   `ProvisionedThroughputExceeded` or `TransactionConflict`) is retried
//!   here, in place, with exponential back-off and full jitter
//!   ([`THROTTLE_ATTEMPTS`] attempts), then reported as
//!   [`StoreError::Unavailable`]. (The SDK's own retries, set in
//!   [`crate::config::sdk_retries`], already cover throttled reads and the
//!   plain throttling exceptions; a cancelled transaction is not retried by
//!   the SDK.)
//! - What no retry can fix (`ValidationException`: an item over 400 KB, a
//!   transaction over 100 items or 4 MB; a cancellation reason
//!   `ValidationError`) → [`StoreError::Rejected`], which the engine makes a
//!   `failed` run at once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use crm_core::memory::{check_transaction, cond_holds};
use crm_core::ports::{Clock, Cond, Doc, DocKey, DocStore, Kind, StoreError, Write};
use crm_core::system::SystemClock;
use tracing::{debug, warn};

use crate::dynamo_item::{decode_item, doc_item};
pub use crate::dynamo_item::{
    doc_from_item, doc_from_stream_image, list_pk, primary_pk, record_key, stored_once,
};
use crate::error::{code_of, describe};
use crate::outbox_index;

/// Sort key of primary records.
pub const SK_PRIMARY: &str = "_";
/// Most keys one `BatchGetItem` may hold.
/// Which entries of a list a `Query` reads (by `sk`, the id).
#[derive(Clone, Copy)]
enum SkRange<'a> {
    All,
    After(&'a str),
    Prefix(&'a str),
}

const BATCH_GET_MAX: usize = 100;
/// Retries of `UnprocessedKeys` before giving up.
const UNPROCESSED_RETRIES: u32 = 10;
/// Attempts of a write that is throttled or meets a concurrent transaction.
pub const THROTTLE_ATTEMPTS: u32 = 6;
/// Attempts of a single conditional `PutItem` that times out or meets a 5xx.
const PUT_ATTEMPTS: u32 = 3;
/// Back-off before the first retry of a throttled write (doubles each time).
const THROTTLE_BASE: Duration = Duration::from_millis(25);
/// Longest back-off between two attempts of a throttled write.
const THROTTLE_CAP: Duration = Duration::from_secs(1);

/// Error codes (and cancellation reason codes) that say "too much at once,
/// try again shortly".
fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ProvisionedThroughputExceeded"
            | "ThrottlingException"
            | "ThrottlingError"
            | "RequestLimitExceeded"
            | "TransactionConflictException"
            | "TransactionConflict"
            | "TransactionInProgressException"
    )
}

/// Full-jitter exponential back-off before retry number `retry` (1-based):
/// a random time in `[0, min(cap, base × 2^retry))`.
pub fn throttle_backoff(retry: u32) -> Duration {
    let ceiling = THROTTLE_BASE
        .saturating_mul(1 << retry.min(16))
        .min(THROTTLE_CAP);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(1000).max(1);
    Duration::from_millis(rand::random_range(0..ms))
}

/// Document store on one DynamoDB table (see the module docs for the layout).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    page_limit: Option<i32>,
    /// Stamps outbox rows with their write time ([`crate::outbox_index`]).
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("page_limit", &self.page_limit)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// A store on `table` using `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            page_limit: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Stamp outbox rows' time index with `clock` instead of the system
    /// clock (tests on an injected clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The attributes of `doc`'s primary record, with the outbox time index
    /// keys if it is an outbox document.
    fn primary_item(&self, doc: &Doc) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let mut item = doc_item(doc, primary_pk(&doc.key), SK_PRIMARY.to_owned())?;
        if let Some(attrs) = outbox_index::index_attributes(doc, self.clock.now()) {
            item.extend(attrs);
        }
        Ok(item)
    }

    /// Ask for at most `limit` items per `Query` page of [`DocStore::list`]
    /// (DynamoDB's own page limit is 1 MB). For tests of pagination.
    pub fn with_page_limit(mut self, limit: i32) -> Self {
        self.page_limit = Some(limit.max(1));
        self
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn key_map(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk)),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }
}

/// What the adapter believes the stored document's parent is (`None` = no
/// parent, or no document).
type Belief = Option<String>;

/// Rounds of "the stored parent was not what we thought" before giving up.
const PARENT_ROUNDS: usize = 6;

/// The role of one item write of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    /// Put of a document's primary record (guarded by its parent).
    PrimaryPut,
    /// Delete of a document's primary record (guarded by its parent).
    PrimaryDelete,
    /// Condition check of a primary record.
    Check,
    /// Put or delete of a list entry (unconditional).
    Entry,
    /// Put, delete or check of the list entry of a document stored once
    /// ([`stored_once`]), with the port's condition.
    Once,
    /// A write of a document stored once that still has a record from
    /// before the change (primary + list entry): the condition on the old
    /// primary record, or the entry's put that must find no entry.
    Legacy,
}

/// One item write and the port write (index into the writes) it belongs to.
#[derive(Debug, Clone, Copy)]
struct Op {
    write: usize,
    kind: OpKind,
}

/// A failed condition or other cancellation reason of one item write.
#[derive(Debug)]
struct Reason {
    op: usize,
    code: String,
    /// The item as it was (ReturnValuesOnConditionCheckFailure = ALL_OLD).
    item: Option<HashMap<String, AttributeValue>>,
}

/// Outcome of one attempt at a transaction.
enum Attempt {
    Done,
    Cancelled(Vec<Reason>),
    /// Throttled or met a concurrent transaction: retry in place.
    Throttled(String),
    Failed(StoreError),
}

/// A condition expression with its attribute names and values.
#[derive(Clone)]
struct Condition {
    expr: String,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

/// The condition on a primary record: the port's `cond`, and (`guard`) that
/// the stored parent is the believed one, so a put or delete knows which list
/// entry to remove without reading first. `Absent` needs no guard.
fn condition(cond: Cond, guard: Option<&Belief>) -> Option<Condition> {
    let mut names = Vec::new();
    let mut values = Vec::new();
    let user = match cond {
        Cond::Any => None,
        Cond::Absent => Some("attribute_not_exists(pk)".to_owned()),
        Cond::Version(v) => {
            names.push(("#v", "version"));
            values.push((":v", AttributeValue::N(v.to_string())));
            Some("#v = :v".to_owned())
        }
    };
    let guard = match (cond, guard) {
        (Cond::Absent, _) | (_, None) => None,
        (_, Some(None)) => {
            names.push(("#p", "parent"));
            Some("attribute_not_exists(#p)".to_owned())
        }
        (_, Some(Some(p))) => {
            names.push(("#p", "parent"));
            values.push((":p", AttributeValue::S(p.clone())));
            Some(if cond == Cond::Any {
                "(attribute_not_exists(pk) OR #p = :p)".to_owned()
            } else {
                "#p = :p".to_owned()
            })
        }
    };
    let expr = match (user, guard) {
        (None, None) => return None,
        (Some(e), None) | (None, Some(e)) => e,
        (Some(u), Some(g)) => format!("{u} AND {g}"),
    };
    Some(Condition {
        expr,
        names,
        values,
    })
}

/// Apply an `Option<Condition>` to a request or item builder.
macro_rules! with_condition {
    ($builder:expr, $cond:expr) => {{
        let mut b = $builder;
        if let Some(c) = $cond {
            b = b.condition_expression(c.expr);
            for (k, v) in c.names {
                b = b.expression_attribute_names(k, v);
            }
            for (k, v) in c.values {
                b = b.expression_attribute_values(k, v);
            }
        }
        b
    }};
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("request not buildable: {e}"))
}

fn read_error<E: std::error::Error + 'static>(op: &str, err: &E) -> StoreError {
    StoreError::Unavailable(format!("{op}: {}", describe(err)))
}

/// Map an error of a single-item write.
fn single_write_attempt<E>(err: &E, old: Option<&HashMap<String, AttributeValue>>) -> Attempt
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let reason = |code: &str| {
        Attempt::Cancelled(vec![Reason {
            op: 0,
            code: code.to_owned(),
            item: old.cloned(),
        }])
    };
    match code_of(err) {
        Some("ConditionalCheckFailedException") => reason("ConditionalCheckFailed"),
        Some(code) if is_throttling(code) => Attempt::Throttled(describe(err)),
        Some("ValidationException") => Attempt::Failed(StoreError::Rejected(describe(err))),
        _ => Attempt::Failed(StoreError::Unavailable(describe(err))),
    }
}

/// The condition of a write.
fn cond_of(w: &Write) -> Cond {
    match w {
        Write::Put { cond, .. } | Write::Delete { cond, .. } | Write::Check { cond, .. } => *cond,
    }
}

/// The key (`pk`, `sk`) of a raw item.
fn item_at(item: &HashMap<String, AttributeValue>) -> Option<(String, String)> {
    let s = |name: &str| item.get(name)?.as_s().ok().cloned();
    Some((s("pk")?, s("sk")?))
}

/// The version and parent of a stored primary record (`None` = absent).
fn version_and_parent(item: &HashMap<String, AttributeValue>) -> Option<(u64, Belief)> {
    let version = item.get("version")?.as_n().ok()?.parse().ok()?;
    let parent = item.get("parent").and_then(|p| p.as_s().ok()).cloned();
    Some((version, parent))
}

impl DynamoStore {
    /// Consistent read of a primary record's raw item.
    async fn get_raw(
        &self,
        key: &DocKey,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        self.get_at(primary_pk(key), SK_PRIMARY).await
    }

    /// Consistent read of the raw item where `key`'s record is kept
    /// ([`record_key`]: its list entry, for a document stored once).
    async fn get_record(
        &self,
        key: &DocKey,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let (pk, sk) = record_key(key);
        self.get_at(pk, &sk).await
    }

    /// Consistent read of the raw item at (`pk`, `sk`).
    async fn get_at(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_map(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| read_error("GetItem", &e))?;
        Ok(out.item)
    }

    /// A document stored once whose `cond` failed on its list entry: does
    /// it hold on a record written before the change (a primary record and
    /// no entry)? Then the write is retried on that record (`Legacy`).
    async fn legacy_holds(
        &self,
        key: &DocKey,
        cond: Cond,
        returned: Option<&HashMap<String, AttributeValue>>,
    ) -> Result<bool, StoreError> {
        if !matches!(cond, Cond::Version(_)) || returned.is_some_and(|i| !i.is_empty()) {
            return Ok(false);
        }
        if self.get_record(key).await?.is_some() {
            return Ok(false);
        }
        let old = self.get_raw(key).await?;
        Ok(old
            .as_ref()
            .and_then(version_and_parent)
            .is_some_and(|(v, _)| cond_holds(cond, Some(v))))
    }

    /// Consistent reads of the items at `keys` (`pk`, `sk`), by
    /// `BatchGetItem`s of at most [`BATCH_GET_MAX`] keys; what was found.
    /// Up to `limit` list entries of `pk` in `range`, by `sk`.
    async fn query_entries(
        &self,
        pk: &str,
        range: SkRange<'_>,
        limit: usize,
    ) -> Result<Vec<Doc>, StoreError> {
        let mut docs = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        while docs.len() < limit {
            let want = i32::try_from(limit - docs.len()).unwrap_or(i32::MAX);
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()));
            let query = match range {
                SkRange::After(a) => query
                    .key_condition_expression("pk = :pk AND sk > :after")
                    .expression_attribute_values(":after", AttributeValue::S(a.to_owned())),
                SkRange::Prefix(p) => query
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(p.to_owned())),
                SkRange::All => query.key_condition_expression("pk = :pk"),
            };
            let out = query
                .consistent_read(true)
                .limit(self.page_limit.map_or(want, |p| p.min(want)))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| read_error("Query", &e))?;
            for item in out.items() {
                let doc = decode_item(item).map_err(|e| {
                    StoreError::Unavailable(format!("corrupt list entry under {pk}: {e}"))
                })?;
                docs.push(doc);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        docs.truncate(limit);
        Ok(docs)
    }

    async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
    ) -> Result<HashMap<(String, String), Doc>, StoreError> {
        self.batch_get_as(keys, true).await
    }

    /// `BatchGetItem`s of `keys`, strongly (`consistent`) or eventually
    /// consistent (half the read units).
    async fn batch_get_as(
        &self,
        keys: Vec<(String, String)>,
        consistent: bool,
    ) -> Result<HashMap<(String, String), Doc>, StoreError> {
        // BatchGetItem rejects duplicate keys: ask for each key once.
        let mut seen = HashSet::with_capacity(keys.len());
        let unique: Vec<(String, String)> = keys
            .into_iter()
            .filter(|k| seen.insert(k.clone()))
            .collect();
        let mut found = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_MAX) {
            let mut request: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|(pk, sk)| Self::key_map(pk.clone(), sk))
                .collect();
            let mut retries = 0u32;
            loop {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(request))
                    .consistent_read(consistent)
                    .build()
                    .map_err(build_err)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ka)
                    .send()
                    .await
                    .map_err(|e| read_error("BatchGetItem", &e))?;
                if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                    for item in items {
                        let Some(at) = item_at(&item) else {
                            continue;
                        };
                        let doc = decode_item(&item).map_err(|e| {
                            StoreError::Unavailable(format!(
                                "corrupt record {}/{}: {e}",
                                at.0, at.1
                            ))
                        })?;
                        found.insert(at, doc);
                    }
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|ka| ka.keys)
                    .unwrap_or_default();
                if request.is_empty() {
                    break;
                }
                retries += 1;
                if retries > UNPROCESSED_RETRIES {
                    return Err(StoreError::Unavailable(format!(
                        "BatchGetItem: {} keys still unprocessed after {UNPROCESSED_RETRIES} retries",
                        request.len()
                    )));
                }
                debug!(
                    unprocessed = request.len(),
                    retries, "BatchGetItem unprocessed keys"
                );
                tokio::time::sleep(Duration::from_millis(10 << retries.min(6))).await;
            }
        }
        Ok(found)
    }

    /// The item writes of `writes` given the believed stored parents and
    /// which documents stored once still have a record from before the
    /// change (`legacy`).
    fn plan(
        &self,
        writes: &[Write],
        beliefs: &[Belief],
        legacy: &[bool],
    ) -> Result<(Vec<TransactWriteItem>, Vec<Op>), StoreError> {
        let mut items = Vec::with_capacity(writes.len() * 2);
        let mut ops = Vec::with_capacity(writes.len() * 2);
        let entry_delete = |tenant: &str, kind: Kind, parent: &str, id: &str| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key_map(list_pk(tenant, kind, parent), id)))
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .map_err(build_err)
        };
        for (i, w) in writes.iter().enumerate() {
            let belief = &beliefs[i];
            if let Some(parent) = stored_once(w.key()) {
                self.plan_once(w, parent, legacy[i], &mut items)?
                    .into_iter()
                    .for_each(|kind| ops.push(Op { write: i, kind }));
                continue;
            }
            match w {
                // A list-only document is stored once, as its list entry.
                Write::Put {
                    doc,
                    cond: Cond::Any,
                } if doc.key.kind.list_only() && doc.parent.is_some() => {
                    let parent = doc.parent.as_deref().unwrap_or_default();
                    let entry = doc_item(
                        doc,
                        list_pk(&doc.key.tenant, doc.key.kind, parent),
                        doc.key.id.clone(),
                    )?;
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(entry))
                        .build()
                        .map_err(build_err)?;
                    items.push(TransactWriteItem::builder().put(put).build());
                    ops.push(Op {
                        write: i,
                        kind: OpKind::Entry,
                    });
                }
                Write::Delete {
                    key,
                    parent: Some(parent),
                    cond: Cond::Any,
                } if key.kind.list_only() => {
                    items.push(entry_delete(&key.tenant, key.kind, parent, &key.id)?);
                    ops.push(Op {
                        write: i,
                        kind: OpKind::Entry,
                    });
                }
                Write::Put { doc, cond } => {
                    let item = self.primary_item(doc)?;
                    let put = with_condition!(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item))
                            .return_values_on_condition_check_failure(
                                ReturnValuesOnConditionCheckFailure::AllOld
                            ),
                        condition(*cond, Some(belief))
                    )
                    .build()
                    .map_err(build_err)?;
                    items.push(TransactWriteItem::builder().put(put).build());
                    ops.push(Op {
                        write: i,
                        kind: OpKind::PrimaryPut,
                    });
                    if let Some(parent) = &doc.parent {
                        let entry = doc_item(
                            doc,
                            list_pk(&doc.key.tenant, doc.key.kind, parent),
                            doc.key.id.clone(),
                        )?;
                        let put = Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(entry))
                            .build()
                            .map_err(build_err)?;
                        items.push(TransactWriteItem::builder().put(put).build());
                        ops.push(Op {
                            write: i,
                            kind: OpKind::Entry,
                        });
                    }
                    // The document moves away from its stored parent.
                    if *cond != Cond::Absent && belief.is_some() && *belief != doc.parent {
                        let old = belief.as_deref().unwrap_or_default();
                        items.push(entry_delete(
                            &doc.key.tenant,
                            doc.key.kind,
                            old,
                            &doc.key.id,
                        )?);
                        ops.push(Op {
                            write: i,
                            kind: OpKind::Entry,
                        });
                    }
                }
                Write::Delete { key, cond, .. } => {
                    let del = with_condition!(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(Self::key_map(primary_pk(key), SK_PRIMARY)))
                            .return_values_on_condition_check_failure(
                                ReturnValuesOnConditionCheckFailure::AllOld
                            ),
                        condition(*cond, Some(belief))
                    )
                    .build()
                    .map_err(build_err)?;
                    items.push(TransactWriteItem::builder().delete(del).build());
                    ops.push(Op {
                        write: i,
                        kind: OpKind::PrimaryDelete,
                    });
                    if let (Some(parent), false) = (belief, *cond == Cond::Absent) {
                        items.push(entry_delete(&key.tenant, key.kind, parent, &key.id)?);
                        ops.push(Op {
                            write: i,
                            kind: OpKind::Entry,
                        });
                    }
                }
                Write::Check { key, cond } => {
                    let Some(c) = condition(*cond, None) else {
                        continue; // `Any` always holds
                    };
                    let check = with_condition!(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(Self::key_map(primary_pk(key), SK_PRIMARY))),
                        Some(c)
                    )
                    .build()
                    .map_err(build_err)?;
                    items.push(TransactWriteItem::builder().condition_check(check).build());
                    ops.push(Op {
                        write: i,
                        kind: OpKind::Check,
                    });
                }
            }
        }
        Ok((items, ops))
    }

    /// The item writes of `w`, a write of a document stored once under
    /// `parent` (its list entry), pushed onto `items`; returns their roles.
    /// `legacy`: the document still has its record from before the change
    /// (see [`DynamoStore::legacy_holds`]); the write moves it to its entry.
    fn plan_once(
        &self,
        w: &Write,
        parent: &str,
        legacy: bool,
        items: &mut Vec<TransactWriteItem>,
    ) -> Result<Vec<OpKind>, StoreError> {
        let key = w.key();
        let entry_key = || Self::key_map(list_pk(&key.tenant, key.kind, parent), &key.id);
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        let primary_delete = |cond: Option<Condition>| {
            with_condition!(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key_map(primary_pk(key), SK_PRIMARY)))
                    .return_values_on_condition_check_failure(all_old.clone()),
                cond
            )
            .build()
            .map(|d| TransactWriteItem::builder().delete(d).build())
            .map_err(build_err)
        };
        let (entry_cond, entry_role) = if legacy {
            (Cond::Absent, OpKind::Legacy)
        } else {
            (cond_of(w), OpKind::Once)
        };
        Ok(match w {
            Write::Put { doc, cond } => {
                let entry = doc_item(doc, list_pk(&key.tenant, key.kind, parent), key.id.clone())?;
                let put = with_condition!(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(entry))
                        .return_values_on_condition_check_failure(all_old.clone()),
                    condition(entry_cond, None)
                )
                .build()
                .map_err(build_err)?;
                items.push(TransactWriteItem::builder().put(put).build());
                if !legacy {
                    return Ok(vec![OpKind::Once]);
                }
                // The old record goes, on the condition the port asked for.
                items.push(primary_delete(condition(*cond, None))?);
                vec![OpKind::Legacy, OpKind::Legacy]
            }
            Write::Delete { cond, .. } => {
                let (entry_cond, primary_cond) = if legacy {
                    (None, condition(*cond, None))
                } else {
                    (condition(*cond, None), None)
                };
                let del = with_condition!(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(entry_key()))
                        .return_values_on_condition_check_failure(all_old.clone()),
                    entry_cond
                )
                .build()
                .map_err(build_err)?;
                items.push(TransactWriteItem::builder().delete(del).build());
                // A record from before the change goes too (else a read by
                // key would still find it).
                items.push(primary_delete(primary_cond)?);
                if legacy {
                    vec![OpKind::Entry, OpKind::Legacy]
                } else {
                    vec![entry_role, OpKind::Entry]
                }
            }
            Write::Check { cond, .. } => {
                let Some(c) = condition(*cond, None) else {
                    return Ok(Vec::new()); // `Any` always holds
                };
                let at = if legacy {
                    Self::key_map(primary_pk(key), SK_PRIMARY)
                } else {
                    entry_key()
                };
                let check = with_condition!(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(at))
                        .return_values_on_condition_check_failure(all_old),
                    Some(c)
                )
                .build()
                .map_err(build_err)?;
                items.push(TransactWriteItem::builder().condition_check(check).build());
                vec![entry_role]
            }
        })
    }

    /// One write of one primary record and nothing else: a plain
    /// PutItem/DeleteItem with its condition costs half the request units of
    /// a transaction.
    ///
    /// A retry of a conditional put after a lost response (the SDK retries a
    /// timeout or a 5xx) fails its own condition although its first attempt
    /// was applied: a `PutItem` has no idempotency token. So a put whose
    /// condition fails while the stored record is exactly the record it
    /// writes counts as done (an identical record can only come from this
    /// write or from an identical state transition). Conditional deletes
    /// cannot tell "deleted by my first attempt" from "never there" and go
    /// through `TransactWriteItems`, whose token covers retries.
    async fn single(&self, write: &Write, belief: &Belief) -> Attempt {
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        match write {
            Write::Put { doc, cond } if stored_once(&doc.key).is_some() => {
                let (pk, sk) = record_key(&doc.key);
                let item = match doc_item(doc, pk, sk) {
                    Ok(item) => item,
                    Err(e) => return Attempt::Failed(e),
                };
                self.put_one(doc, item, condition(*cond, None)).await
            }
            Write::Put { doc, cond } => {
                let item = match self.primary_item(doc) {
                    Ok(item) => item,
                    Err(e) => return Attempt::Failed(e),
                };
                self.put_one(doc, item, condition(*cond, Some(belief)))
                    .await
            }
            Write::Delete { key, cond, .. } => {
                let req = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key_map(primary_pk(key), SK_PRIMARY)))
                    .return_values_on_condition_check_failure(all_old);
                match with_condition!(req, condition(*cond, Some(belief)))
                    .send()
                    .await
                {
                    Ok(_) => Attempt::Done,
                    Err(e) => {
                        let old = match e.as_service_error() {
                            Some(DeleteItemError::ConditionalCheckFailedException(c)) => c.item(),
                            _ => None,
                        };
                        single_write_attempt(&e, old)
                    }
                }
            }
            Write::Check { .. } => {
                Attempt::Failed(StoreError::Invalid("a check is not a single write".into()))
            }
        }
    }

    /// A `PutItem` of one primary record with its condition. The SDK does
    /// not retry it: a retry of a write whose response was lost would fail
    /// its own condition. It is retried here ([`PUT_ATTEMPTS`] attempts, on
    /// timeouts, dispatch failures and 5xx answers), and a retry whose
    /// condition fails while the stored record is exactly the one it writes
    /// is the earlier attempt applied: done.
    async fn put_one(
        &self,
        doc: &Doc,
        item: HashMap<String, AttributeValue>,
        cond: Option<Condition>,
    ) -> Attempt {
        let no_sdk_retries = aws_sdk_dynamodb::config::Builder::default()
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let req = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let sent = with_condition!(req, cond.clone())
                .customize()
                .config_override(no_sdk_retries.clone())
                .send()
                .await;
            let e = match sent {
                Ok(_) => return Attempt::Done,
                Err(e) => e,
            };
            let failed_condition = match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => Some(c.item().cloned()),
                _ => None,
            };
            let Some(returned) = failed_condition else {
                let transient = matches!(
                    e,
                    SdkError::TimeoutError(_)
                        | SdkError::DispatchFailure(_)
                        | SdkError::ResponseError(_)
                ) || e
                    .raw_response()
                    .is_some_and(|r| r.status().is_server_error());
                if transient && attempt < PUT_ATTEMPTS {
                    debug!(key = %doc.key, attempt, error = %describe(&e), "put failed; retrying");
                    tokio::time::sleep(throttle_backoff(attempt)).await;
                    continue;
                }
                return single_write_attempt(&e, None);
            };
            let old = match returned {
                Some(old) if !old.is_empty() => Some(old),
                _ => match self.get_record(&doc.key).await {
                    Ok(old) => old,
                    Err(e) => return Attempt::Failed(e),
                },
            };
            if attempt > 1 && old.as_ref() == Some(&item) {
                debug!(key = %doc.key, "conditional put applied by an earlier attempt");
                return Attempt::Done;
            }
            return single_write_attempt(&e, old.as_ref());
        }
    }

    async fn transaction(&self, items: Vec<TransactWriteItem>) -> Attempt {
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => return Attempt::Done,
            Err(e) => e,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(tc)) => {
                let reasons: Vec<Reason> = tc
                    .cancellation_reasons()
                    .iter()
                    .enumerate()
                    .filter_map(|(op, r)| {
                        let code = r.code().filter(|c| *c != "None")?;
                        Some(Reason {
                            op,
                            code: code.to_owned(),
                            item: r.item().cloned(),
                        })
                    })
                    .collect();
                if reasons.is_empty() {
                    Attempt::Failed(StoreError::Unavailable(describe(&err)))
                } else {
                    debug!(?reasons, "transaction cancelled");
                    Attempt::Cancelled(reasons)
                }
            }
            _ => match code_of(&err) {
                Some(code) if is_throttling(code) => Attempt::Throttled(describe(&err)),
                Some("ValidationException") => {
                    Attempt::Failed(StoreError::Rejected(describe(&err)))
                }
                _ => Attempt::Failed(StoreError::Unavailable(describe(&err))),
            },
        }
    }
}

#[async_trait]
impl DocStore for DynamoStore {
    /// A transaction's items bill twice, a single conditional `PutItem` once.
    fn prefers_single_writes(&self) -> bool {
        true
    }
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        let mut item = self.get_record(key).await?;
        if item.is_none() && stored_once(key).is_some() {
            // Written before the document was stored once: its primary record.
            item = self.get_raw(key).await?;
        }
        match item {
            None => Ok(None),
            Some(item) => decode_item(&item)
                .map(Some)
                .map_err(|e| StoreError::Unavailable(format!("corrupt record {key}: {e}"))),
        }
    }

    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        let at: Vec<(String, String)> = keys.iter().map(record_key).collect();
        let mut found = self.batch_get(at.clone()).await?;
        // Documents stored once that have no entry: records written before
        // the change are primary records.
        let legacy: Vec<(String, String)> = keys
            .iter()
            .zip(&at)
            .filter(|(k, a)| stored_once(k).is_some() && !found.contains_key(*a))
            .map(|(k, _)| (primary_pk(k), SK_PRIMARY.to_owned()))
            .collect();
        if !legacy.is_empty() {
            found.extend(self.batch_get(legacy).await?);
        }
        Ok(keys
            .iter()
            .zip(at)
            .map(|(k, a)| {
                found
                    .get(&a)
                    .or_else(|| {
                        stored_once(k)?;
                        found.get(&(primary_pk(k), SK_PRIMARY.to_owned()))
                    })
                    .cloned()
            })
            .collect())
    }

    /// Eventually consistent reads of the keys; the keys found absent are
    /// read again consistently (an absence is never taken from a replica
    /// behind a recent write).
    async fn get_many_settled(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        let at: Vec<(String, String)> = keys.iter().map(record_key).collect();
        let found = self.batch_get_as(at.clone(), false).await?;
        let mut out: Vec<Option<Doc>> = at.iter().map(|a| found.get(a).cloned()).collect();
        let absent: Vec<DocKey> = keys
            .iter()
            .zip(&out)
            .filter(|(_, d)| d.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !absent.is_empty() {
            let mut again = self.get_many(&absent).await?.into_iter();
            for d in out.iter_mut().filter(|d| d.is_none()) {
                *d = again.next().flatten();
            }
        }
        Ok(out)
    }

    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        // The whole list: one unbounded page (the queries still page by
        // `page_limit` and DynamoDB's 1 MB).
        self.list_page(tenant, kind, parent, None, usize::MAX).await
    }

    /// A page read from the list entries by key: `sk` is the id, so the
    /// query starts after `after` and stops at `limit` entries.
    async fn list_page(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Doc>, StoreError> {
        let range = match after {
            Some(a) => SkRange::After(a),
            None => SkRange::All,
        };
        self.query_entries(&list_pk(tenant, kind, parent), range, limit)
            .await
    }

    /// The entries whose `sk` (the id) begins with `prefix`: one `Query`
    /// (`begins_with`), paged by DynamoDB only.
    async fn list_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
    ) -> Result<Vec<Doc>, StoreError> {
        let pk = list_pk(tenant, kind, parent);
        let mut docs = self
            .query_entries(&pk, SkRange::Prefix(prefix), usize::MAX)
            .await?;
        docs.retain(|d| d.key.id.len() > prefix.len());
        Ok(docs)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        // Believe each document's stored parent is the one it is written with
        // (puts) or named with (deletes); a failed parent guard tells otherwise.
        let mut beliefs: Vec<Belief> = writes
            .iter()
            .map(|w| match w {
                Write::Put { doc, .. } => doc.parent.clone(),
                Write::Delete { parent, .. } => parent.clone(),
                Write::Check { .. } => None,
            })
            .collect();
        let mut legacy = vec![false; writes.len()];
        let mut throttled = 0u32;
        let mut round = 0usize;
        while round < PARENT_ROUNDS {
            let (items, ops) = self.plan(&writes, &beliefs, &legacy)?;
            let attempt = match ops.as_slice() {
                [] => return Ok(()),
                // One record: PutItem (with its condition) or an
                // unconditional DeleteItem, half the request units.
                [op] if op.kind == OpKind::PrimaryPut
                    || (op.kind == OpKind::Once
                        && matches!(writes[op.write], Write::Put { .. }))
                    || (op.kind == OpKind::PrimaryDelete
                        && cond_of(&writes[op.write]) == Cond::Any) =>
                {
                    self.single(&writes[op.write], &beliefs[op.write]).await
                }
                _ => self.transaction(items).await,
            };
            let reasons = match attempt {
                Attempt::Done => return Ok(()),
                Attempt::Failed(e) => return Err(e),
                Attempt::Throttled(why) => {
                    throttled += 1;
                    if throttled >= THROTTLE_ATTEMPTS {
                        warn!(%why, attempts = throttled, "write still throttled; giving up");
                        return Err(StoreError::Unavailable(format!(
                            "throttled {throttled} times: {why}"
                        )));
                    }
                    debug!(%why, retry = throttled, "write throttled; retrying in place");
                    tokio::time::sleep(throttle_backoff(throttled)).await;
                    continue;
                }
                Attempt::Cancelled(reasons) => reasons,
            };
            round += 1;
            let key_of = |op: usize| {
                ops.get(op)
                    .map(|o| writes[o.write].key().to_string())
                    .unwrap_or_default()
            };
            let mut moved = false;
            for r in reasons
                .iter()
                .filter(|r| r.code == "ConditionalCheckFailed")
            {
                let Some(op) = ops.get(r.op) else {
                    return Err(StoreError::Conflict { key: key_of(r.op) });
                };
                let (key, cond) = (writes[op.write].key(), cond_of(&writes[op.write]));
                if op.kind == OpKind::Once {
                    if !self.legacy_holds(key, cond, r.item.as_ref()).await? {
                        return Err(StoreError::Conflict {
                            key: key.to_string(),
                        });
                    }
                    debug!(%key, "a record from before the change; writing it there");
                    legacy[op.write] = true;
                    moved = true;
                    continue;
                }
                let guarded = matches!(op.kind, OpKind::PrimaryPut | OpKind::PrimaryDelete)
                    && cond != Cond::Absent;
                if !guarded {
                    return Err(StoreError::Conflict {
                        key: key.to_string(),
                    });
                }
                // The port's condition, or our parent guard? Look at the record.
                let old = match &r.item {
                    Some(item) if !item.is_empty() => Some(item.clone()),
                    _ => self.get_raw(key).await?,
                };
                let (version, parent) = match old.as_ref().and_then(version_and_parent) {
                    Some((v, p)) => (Some(v), p),
                    None => (None, None),
                };
                if !cond_holds(cond, version) {
                    return Err(StoreError::Conflict {
                        key: key.to_string(),
                    });
                }
                debug!(%key, ?parent, round, "stored parent differs; retrying with it");
                beliefs[op.write] = parent;
                moved = true;
            }
            if moved {
                continue;
            }
            if let Some(r) = reasons.iter().find(|r| is_throttling(&r.code)) {
                throttled += 1;
                if throttled >= THROTTLE_ATTEMPTS {
                    warn!(
                        ?reasons,
                        attempts = throttled,
                        "transaction still throttled; giving up"
                    );
                    return Err(StoreError::Unavailable(format!(
                        "transaction cancelled ({}) {throttled} times",
                        r.code
                    )));
                }
                debug!(code = %r.code, retry = throttled, "transaction throttled; retrying in place");
                tokio::time::sleep(throttle_backoff(throttled)).await;
                round -= 1;
                continue;
            }
            if let Some(r) = reasons.iter().find(|r| r.code == "ValidationError") {
                return Err(StoreError::Rejected(format!(
                    "transaction rejected on {}: {reasons:?}",
                    key_of(r.op)
                )));
            }
            warn!(?reasons, "transaction cancelled");
            return Err(StoreError::Unavailable(format!(
                "transaction cancelled: {reasons:?}"
            )));
        }
        // The stored parent kept changing under us: contention.
        Err(StoreError::Conflict {
            key: writes
                .first()
                .map(|w| w.key().to_string())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(parent: Option<&str>) -> Doc {
        Doc {
            key: DocKey::new("t1", Kind::Outbox, "o-1"),
            version: 3,
            parent: parent.map(str::to_owned),
            expires_at: Some(1_900_000_000),
            body: json!({"type": "run_ready", "n": [1, 2.5, "x"]}),
        }
    }

    #[test]
    fn throttling_is_told_apart_and_backs_off_within_bounds() {
        for code in [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "ThrottlingError",
            "TransactionConflict",
        ] {
            assert!(is_throttling(code), "{code}");
        }
        for code in [
            "ConditionalCheckFailed",
            "ValidationError",
            "ValidationException",
            "None",
        ] {
            assert!(!is_throttling(code), "{code}");
        }
        for retry in 1..20 {
            assert!(throttle_backoff(retry) < THROTTLE_CAP);
        }
        assert!(throttle_backoff(1) < THROTTLE_BASE * 2);
    }

    #[test]
    fn keys() {
        let k = DocKey::new("t1", Kind::FeedPost, "p-1");
        assert_eq!(primary_pk(&k), "t1#feed_post#p-1");
        assert_eq!(list_pk("t1", Kind::Run, "item-1"), "t1#run@item-1");
        // A '#' in the tenant cannot make two tenants' keys collide.
        let a = DocKey::new("t", Kind::Item, "a#item#z");
        let b = DocKey::new("t#item#a", Kind::Item, "z");
        assert_ne!(primary_pk(&a), primary_pk(&b));
        assert_eq!(primary_pk(&b), "t%23item%23a#item#z");
    }

    #[test]
    fn item_round_trip() {
        let d = doc(Some("p"));
        let item = doc_item(&d, primary_pk(&d.key), SK_PRIMARY.into()).unwrap();
        assert_eq!(decode_item(&item).unwrap(), d);
        let d = doc(None);
        let item = doc_item(&d, primary_pk(&d.key), SK_PRIMARY.into()).unwrap();
        assert!(!item.contains_key("parent"));
        assert_eq!(doc_from_item(&item), Some(d));
    }

    #[test]
    fn stream_images() {
        let d = doc(Some("_system"));
        let image = json!({
            "pk": {"S": "t1#outbox#o-1"}, "sk": {"S": "_"},
            "tenant": {"S": "t1"}, "kind": {"S": "outbox"}, "id": {"S": "o-1"},
            "version": {"N": "3"}, "parent": {"S": "_system"},
            "expires_at": {"N": "1900000000"},
            "body": {"S": serde_json::to_string(&d.body).unwrap()},
        });
        assert_eq!(doc_from_stream_image(&image), Some(d.clone()));
        // The list entry of the same document is not a primary record.
        let mut entry = image.clone();
        entry["pk"] = json!({"S": "t1#outbox@_system"});
        entry["sk"] = json!({"S": "o-1"});
        assert_eq!(doc_from_stream_image(&entry), None);
        assert_eq!(doc_from_stream_image(&json!({})), None);
        let mut bad = image;
        bad["version"] = json!({"S": "3"});
        assert_eq!(doc_from_stream_image(&bad), None);
    }
}
