//! [`SqliteStore`]: the document store on the `docs` table.

use async_trait::async_trait;
use crm_core::memory::{check_transaction_of, cond_holds};
use crm_core::ports::MAX_TRANSACTION_WRITES;
use crm_core::ports::{Cond, Doc, DocKey, DocStore, Kind, StoreError, Write};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::Value;

use crate::{Db, EmbeddedError};

const GET: &str = "SELECT version, parent, expires_at, body FROM docs \
                   WHERE tenant = ?1 AND kind = ?2 AND id = ?3";
const VERSION: &str = "SELECT version FROM docs WHERE tenant = ?1 AND kind = ?2 AND id = ?3";
/// Without statistics the planner would scan the (tenant, kind) range of the
/// primary key; the parent index is always the right path.
pub(crate) const LIST: &str = "SELECT id, version, parent, expires_at, body \
                    FROM docs INDEXED BY docs_by_parent \
                    WHERE tenant = ?1 AND kind = ?2 AND parent = ?3 \
                    ORDER BY id COLLATE BINARY";
/// One page of [`LIST`]: ids after `?4`, at most `?5` rows.
const LIST_PAGE: &str = "SELECT id, version, parent, expires_at, body \
                    FROM docs INDEXED BY docs_by_parent \
                    WHERE tenant = ?1 AND kind = ?2 AND parent = ?3 AND id > ?4 \
                    ORDER BY id COLLATE BINARY LIMIT ?5";
/// How many ids of a list lie in the range (`?4`, `?5`), counting at most
/// `?6`: read from the parent index alone.
const COUNT_RANGE: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM docs INDEXED BY docs_by_parent \
                    WHERE tenant = ?1 AND kind = ?2 AND parent = ?3 AND id > ?4 AND id < ?5 \
                    LIMIT ?6)";
/// [`COUNT_RANGE`] with no upper end.
const COUNT_AFTER: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM docs INDEXED BY docs_by_parent \
                    WHERE tenant = ?1 AND kind = ?2 AND parent = ?3 AND id > ?4 LIMIT ?5)";
/// Rewrite a document in place when its parent stays: only its data page
/// changes, and the partial expiry index only when the document gets (or
/// loses) an expiry — a run made final (its retention) — never the key or
/// parent index.
const REWRITE: &str = "UPDATE docs SET version = ?4, expires_at = ?6, body = ?7 \
                       WHERE tenant = ?1 AND kind = ?2 AND id = ?3 \
                       AND parent IS ?5";
/// A new document, or one whose parent or expiry changes.
const PUT: &str = "INSERT INTO docs (tenant, kind, id, version, parent, expires_at, body) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                   ON CONFLICT (tenant, kind, id) DO UPDATE SET \
                   version = excluded.version, parent = excluded.parent, \
                   expires_at = excluded.expires_at, body = excluded.body";
const DELETE: &str = "DELETE FROM docs WHERE tenant = ?1 AND kind = ?2 AND id = ?3";
const PURGE: &str = "DELETE FROM docs WHERE rowid IN (SELECT rowid FROM docs \
                     WHERE expires_at IS NOT NULL AND expires_at < ?1 LIMIT ?2)";

/// [`DocStore`] on SQLite, with the semantics of `crm_core::memory::MemStore`.
///
/// A transaction is one SQLite transaction (`BEGIN IMMEDIATE`): conditions
/// are checked inside it, then every write is applied, all or nothing.
/// Documents past `expires_at` are kept until [`SqliteStore::purge_expired`]
/// removes them (like DynamoDB's TTL, expiry is only a permission to delete).
#[derive(Clone)]
pub struct SqliteStore {
    db: Db,
}

/// Most documents one purge statement deletes.
pub const PURGE_BATCH: usize = 1_000;

/// Most writes of one group commit ([`DocStore::transact_group`]): the
/// local worker commits a batch of robot runs (about 5 writes each) at once,
/// so the pages they share (index leaves, the report documents, the
/// neighbouring records of items created together) go to the WAL once per
/// batch instead of once per 50 writes.
pub const GROUP_LIMIT: usize = 4_096;

impl SqliteStore {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        SqliteStore { db }
    }

    /// Delete the documents whose `expires_at` (epoch seconds) is before
    /// `now_epoch_secs`; returns how many were deleted. In batches of
    /// [`PURGE_BATCH`], the database free for others between them.
    pub fn purge_expired(&self, now_epoch_secs: i64) -> Result<usize, EmbeddedError> {
        let mut n = 0;
        loop {
            let batch = self.purge_batch(now_epoch_secs, PURGE_BATCH)?;
            n += batch;
            if batch < PURGE_BATCH {
                return Ok(n);
            }
        }
    }

    /// One batch of [`SqliteStore::purge_expired`]: at most `limit` documents.
    fn purge_batch(&self, now_epoch_secs: i64, limit: usize) -> Result<usize, EmbeddedError> {
        let g = self.db.lock();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(g.conn
            .prepare_cached(PURGE)?
            .execute((now_epoch_secs, limit))?)
    }
}

/// A write, encoded for SQLite before the connection is taken.
enum Op<'a> {
    Put {
        key: &'a DocKey,
        version: i64,
        parent: Option<&'a str>,
        expires_at: Option<i64>,
        body: String,
    },
    Delete {
        key: &'a DocKey,
    },
    Check,
}

fn encode(w: &Write) -> Result<(Op<'_>, &DocKey, Cond), StoreError> {
    Ok(match w {
        Write::Put { doc, cond } => {
            let version = i64::try_from(doc.version).map_err(|_| {
                StoreError::Invalid(format!("{}: version {} too large", doc.key, doc.version))
            })?;
            let body = serde_json::to_string(&doc.body)
                .map_err(|e| StoreError::Invalid(format!("{}: body: {e}", doc.key)))?;
            let op = Op::Put {
                key: &doc.key,
                version,
                parent: doc.parent.as_deref(),
                expires_at: doc.expires_at,
                body,
            };
            (op, &doc.key, *cond)
        }
        Write::Delete { key, cond, .. } => (Op::Delete { key }, key, *cond),
        Write::Check { key, cond } => (Op::Check, key, *cond),
    })
}

/// Stored version of `key`, if any.
fn current_version(conn: &Connection, key: &DocKey) -> Result<Option<u64>, EmbeddedError> {
    let v: Option<i64> = conn
        .prepare_cached(VERSION)?
        .query_row(
            (key.tenant.as_str(), key.kind.as_str(), key.id.as_str()),
            |row| row.get(0),
        )
        .optional()?;
    // Versions are written from `u64`s that fit in `i64`, so they are never negative.
    Ok(v.map(|v| u64::try_from(v).unwrap_or(0)))
}

/// A stored row of `key`, body still encoded: what is read while the
/// connection is held (decoding the JSON waits until it is released).
type GetRow = (i64, Option<String>, Option<i64>, String);

fn read_row(conn: &Connection, key: &DocKey) -> Result<Option<GetRow>, EmbeddedError> {
    Ok(conn
        .prepare_cached(GET)?
        .query_row(
            (key.tenant.as_str(), key.kind.as_str(), key.id.as_str()),
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?)
}

fn doc_of(key: &DocKey, row: Option<GetRow>) -> Result<Option<Doc>, EmbeddedError> {
    row.map(|(version, parent, expires_at, body)| {
        make_doc(key.clone(), version, parent, expires_at, &body)
    })
    .transpose()
}

fn make_doc(
    key: DocKey,
    version: i64,
    parent: Option<String>,
    expires_at: Option<i64>,
    body: &str,
) -> Result<Doc, EmbeddedError> {
    Ok(Doc {
        key,
        version: u64::try_from(version).unwrap_or(0),
        parent,
        expires_at,
        body: serde_json::from_str::<Value>(body)?,
    })
}

/// One row of [`LIST`], body still encoded.
type ListRow = (String, i64, Option<String>, Option<i64>, String);

fn list_row(row: &Row<'_>) -> rusqlite::Result<ListRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

impl SqliteStore {
    fn transact_sync(&self, writes: &[Write], limit: usize) -> Result<(), StoreError> {
        check_transaction_of(writes, limit)?;
        let ops = writes.iter().map(encode).collect::<Result<Vec<_>, _>>()?;
        let mut g = self.db.lock();
        let tx = g
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(EmbeddedError::from)?;
        for (_, key, cond) in &ops {
            if *cond != Cond::Any && !cond_holds(*cond, current_version(&tx, key)?) {
                // Dropping `tx` rolls back; nothing was written yet anyway.
                return Err(StoreError::Conflict {
                    key: key.to_string(),
                });
            }
        }
        for (op, _, cond) in &ops {
            let res = match op {
                Op::Put {
                    key,
                    version,
                    parent,
                    expires_at,
                    body,
                } => {
                    let args = params![
                        key.tenant,
                        key.kind.as_str(),
                        key.id,
                        version,
                        parent,
                        expires_at,
                        body
                    ];
                    // A document that must be new skips the in-place attempt.
                    let rewritten = if *cond == Cond::Absent {
                        Ok(0)
                    } else {
                        tx.prepare_cached(REWRITE)
                            .and_then(|mut st| st.execute(args))
                    };
                    match rewritten {
                        Ok(0) => tx.prepare_cached(PUT).and_then(|mut st| st.execute(args)),
                        other => other,
                    }
                }
                Op::Delete { key } => tx.prepare_cached(DELETE).and_then(|mut st| {
                    st.execute((key.tenant.as_str(), key.kind.as_str(), key.id.as_str()))
                }),
                Op::Check => Ok(0),
            };
            res.map_err(EmbeddedError::from)?;
        }
        tx.commit().map_err(EmbeddedError::from)?;
        Ok(())
    }

    fn list_sync(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, EmbeddedError> {
        let rows = {
            let g = self.db.lock();
            let mut st = g.conn.prepare_cached(LIST)?;
            st.query_map((tenant, kind.as_str(), parent), list_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        Self::docs_of(tenant, kind, rows)
    }

    /// One page of a list, read by seeking the parent index past `after`.
    fn list_page_sync(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<Doc>, EmbeddedError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = {
            let g = self.db.lock();
            let mut st = g.conn.prepare_cached(LIST_PAGE)?;
            st.query_map((tenant, kind.as_str(), parent, after, limit), list_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        Self::docs_of(tenant, kind, rows)
    }

    fn count_prefix_sync(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
        max: usize,
    ) -> Result<usize, EmbeddedError> {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let g = self.db.lock();
        let n: i64 = match prefix_end(prefix) {
            Some(end) => g.conn.prepare_cached(COUNT_RANGE)?.query_row(
                (tenant, kind.as_str(), parent, prefix, end.as_str(), max),
                |r| r.get(0),
            )?,
            None => g
                .conn
                .prepare_cached(COUNT_AFTER)?
                .query_row((tenant, kind.as_str(), parent, prefix, max), |r| r.get(0))?,
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn docs_of(tenant: &str, kind: Kind, rows: Vec<ListRow>) -> Result<Vec<Doc>, EmbeddedError> {
        let mut out = Vec::with_capacity(rows.len());
        for (id, version, parent, expires_at, body) in rows {
            let key = DocKey::new(tenant, kind, id);
            out.push(make_doc(key, version, parent, expires_at, &body)?);
        }
        Ok(out)
    }
}

/// The least string above every string that starts with `prefix` (ids
/// compare as UTF-8 bytes, that is by code point): its last character
/// raised by one, after dropping trailing `char::MAX`es. `None` when there
/// is none (an empty prefix).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'), // past the surrogates
            n => char::from_u32(n),
        };
        if let Some(c) = next {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[async_trait]
impl DocStore for SqliteStore {
    async fn purge_expired(&self, now_epoch_secs: i64, limit: usize) -> Result<usize, StoreError> {
        Ok(self.purge_batch(now_epoch_secs, limit)?)
    }
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        let row = {
            let g = self.db.lock();
            read_row(&g.conn, key)?
        };
        Ok(doc_of(key, row)?)
    }

    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        let rows = {
            let g = self.db.lock();
            if keys.len() < 2 {
                keys.first()
                    .map(|key| read_row(&g.conn, key))
                    .transpose()?
                    .into_iter()
                    .collect::<Vec<_>>()
            } else {
                // One read transaction for all of them: the file's shared
                // lock and the WAL snapshot are taken once, not once per
                // document (a lane's batch reads three documents per run).
                let tx = g
                    .conn
                    .unchecked_transaction()
                    .map_err(EmbeddedError::from)?;
                let rows = keys
                    .iter()
                    .map(|key| read_row(&tx, key))
                    .collect::<Result<Vec<_>, _>>()?;
                tx.commit().map_err(EmbeddedError::from)?;
                rows
            }
        };
        // Decoded after the connection is released: other requests' reads
        // and writes go on meanwhile.
        Ok(keys
            .iter()
            .zip(rows)
            .map(|(key, row)| doc_of(key, row))
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        Ok(self.list_sync(tenant, kind, parent)?)
    }

    async fn list_page(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Doc>, StoreError> {
        Ok(self.list_page_sync(tenant, kind, parent, after.unwrap_or(""), limit)?)
    }

    async fn count_prefix(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        prefix: &str,
        max: usize,
    ) -> Result<usize, StoreError> {
        Ok(self.count_prefix_sync(tenant, kind, parent, prefix, max)?)
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_sync(&writes, MAX_TRANSACTION_WRITES)
    }

    fn group_limit(&self) -> usize {
        GROUP_LIMIT
    }

    async fn transact_group(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.transact_sync(&writes, GROUP_LIMIT)
    }
}
