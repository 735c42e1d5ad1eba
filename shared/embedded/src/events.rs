//! [`SqliteEvents`]: queued events for trigger evaluation, on the `events` table.

use async_trait::async_trait;
use crm_core::model::QueuedEvent;
use crm_core::ports::{EventQueue, PortError};
use crm_core::work_source::{EventSeq, QueuedEvents, round_robin};
use rusqlite::params;

use crate::{Db, EmbeddedError, count, sql_limit};

const SEND: &str = "INSERT INTO events (tenant, body) VALUES (?1, ?2)";
const PEEK: &str = "SELECT seq, body FROM events ORDER BY seq LIMIT ?1";
const ACK: &str = "DELETE FROM events WHERE seq = ?1";
const LEN: &str = "SELECT COUNT(*) FROM events";
/// Every tenant with stored events, found through `events_by_tenant` one
/// index probe per tenant, with the sequence number of its oldest event.
pub(crate) const TENANTS: &str = "WITH RECURSIVE t(tenant) AS ( \
                           SELECT MIN(tenant) FROM events \
                           UNION ALL \
                           SELECT (SELECT MIN(tenant) FROM events WHERE tenant > t.tenant) \
                           FROM t WHERE t.tenant IS NOT NULL) \
                       SELECT tenant, (SELECT MIN(seq) FROM events e WHERE e.tenant = t.tenant) \
                       FROM t WHERE tenant IS NOT NULL";
pub(crate) const PEEK_TENANT: &str =
    "SELECT seq, body FROM events WHERE tenant = ?1 ORDER BY seq LIMIT ?2";

/// [`EventQueue`] and its consumer side [`QueuedEvents`] on SQLite: a FIFO,
/// like `crm_core::memory::MemEvents`, whose events stay stored until acked,
/// so that an event taken but not finished before a crash is offered again
/// after restart. Receipts are the rows' sequence numbers.
#[derive(Clone)]
pub struct SqliteEvents {
    db: Db,
}

impl SqliteEvents {
    /// Events on `db`.
    pub fn new(db: Db) -> Self {
        SqliteEvents { db }
    }

    /// Up to `limit` of the oldest events with their sequence numbers, oldest
    /// first. They stay stored until [`SqliteEvents::ack`]. An event that
    /// cannot be read is parked (see [`Db::parked`]), not returned.
    pub fn peek(&self, limit: usize) -> Result<Vec<(i64, QueuedEvent)>, EmbeddedError> {
        let mut g = self.db.lock();
        let rows = g
            .conn
            .prepare_cached(PEEK)?
            .query_map([sql_limit(limit)], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        decode_or_park(&mut g.conn, rows)
    }

    /// [`QueuedEvents::take_fair`]: the `per_tenant` oldest events of every
    /// tenant (tenants in order of their oldest event), round-robin, cut to
    /// `limit`. One query for the tenants, one per tenant.
    pub fn peek_fair(
        &self,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<(i64, QueuedEvent)>, EmbeddedError> {
        if per_tenant == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        let mut g = self.db.lock();
        let mut tenants = g
            .conn
            .prepare_cached(TENANTS)?
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tenants.sort_by_key(|(_, head)| *head);
        let mut groups = Vec::with_capacity(tenants.len());
        for (tenant, _) in tenants {
            let rows = g
                .conn
                .prepare_cached(PEEK_TENANT)?
                .query_map(params![tenant, sql_limit(per_tenant)], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            groups.push(decode_or_park(&mut g.conn, rows)?);
        }
        Ok(round_robin(groups, limit))
    }

    /// Remove the event with this sequence number. Unknown numbers are fine.
    pub fn ack(&self, seq: i64) -> Result<(), EmbeddedError> {
        let g = self.db.lock();
        g.conn.prepare_cached(ACK)?.execute([seq])?;
        Ok(())
    }

    /// Number of stored events.
    pub fn len(&self) -> Result<usize, EmbeddedError> {
        let g = self.db.lock();
        let n: i64 = g
            .conn
            .prepare_cached(LEN)?
            .query_row([], |row| row.get(0))?;
        Ok(count(n))
    }

    /// Whether no event is stored.
    pub fn is_empty(&self) -> Result<bool, EmbeddedError> {
        Ok(self.len()? == 0)
    }
}

#[async_trait]
impl EventQueue for SqliteEvents {
    async fn send(&self, event: QueuedEvent) -> Result<(), PortError> {
        let body = serde_json::to_string(&event).map_err(EmbeddedError::from)?;
        let g = self.db.lock();
        g.conn
            .prepare_cached(SEND)
            .and_then(|mut st| st.execute(params![event.tenant, body]))
            .map_err(EmbeddedError::from)?;
        Ok(())
    }
}

impl QueuedEvents for SqliteEvents {
    fn take(&self, limit: usize) -> Result<Vec<(EventSeq, QueuedEvent)>, PortError> {
        Ok(self.peek(limit)?)
    }

    fn take_fair(
        &self,
        per_tenant: usize,
        limit: usize,
    ) -> Result<Vec<(EventSeq, QueuedEvent)>, PortError> {
        Ok(self.peek_fair(per_tenant, limit)?)
    }

    fn ack(&self, seq: EventSeq) -> Result<(), PortError> {
        Ok(SqliteEvents::ack(self, seq)?)
    }

    fn stored(&self) -> Result<usize, PortError> {
        Ok(self.len()?)
    }

    fn parked(&self) -> Result<usize, PortError> {
        Ok(self.db.parked_in("events")?)
    }
}

/// The events of stored rows `(seq, body)`; a body that cannot be read is
/// parked (see [`Db::parked`]) instead of returned.
fn decode_or_park(
    conn: &mut rusqlite::Connection,
    rows: Vec<(i64, String)>,
) -> Result<Vec<(i64, QueuedEvent)>, EmbeddedError> {
    let mut out = Vec::with_capacity(rows.len());
    for (seq, body) in rows {
        match serde_json::from_str(&body) {
            Ok(event) => out.push((seq, event)),
            Err(e) => crate::park(
                conn,
                "events",
                &seq.to_string(),
                &body,
                &e.to_string(),
                (ACK, &[&seq]),
            )?,
        }
    }
    Ok(out)
}
