//! [`SqliteApiKeys`]: the API key store ([`ApiKeyStore`]) in the database
//! file, table `api_keys`. Only the SHA-256 hash of a key is stored (hex, the
//! primary key, so a lookup is one index probe).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crm_core::api_keys::{ApiKeyRecord, ApiKeyStore, KeyFilter, KeyHash, KeyStoreError, Role};
use rusqlite::{OptionalExtension, params};

use crate::{Db, EmbeddedError};

/// The table, created on first use (idempotent; no schema version change:
/// older files simply gain it).
const CREATE: &str = "
CREATE TABLE IF NOT EXISTS api_keys (
    hash       TEXT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    tenant     TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    role       TEXT
) WITHOUT ROWID;
";
/// Files made before roles existed gain the column; their keys (role NULL)
/// read as admin keys.
const ADD_ROLE: &str = "ALTER TABLE api_keys ADD COLUMN role TEXT";
const COLUMNS: &str = "hash, id, tenant, label, created_at, revoked_at, role";

impl Db {
    /// The API key store of this database (creates its table if needed).
    pub fn api_keys(&self) -> Result<SqliteApiKeys, EmbeddedError> {
        let g = self.lock();
        g.conn.execute_batch(CREATE)?;
        let has_role = g
            .conn
            .prepare("SELECT 1 FROM pragma_table_info('api_keys') WHERE name = 'role'")?
            .exists([])?;
        if !has_role {
            g.conn.execute_batch(ADD_ROLE)?;
        }
        drop(g);
        Ok(SqliteApiKeys { db: self.clone() })
    }
}

/// API keys in the `api_keys` table; see the module documentation.
#[derive(Clone)]
pub struct SqliteApiKeys {
    db: Db,
}

fn unavailable(e: impl std::fmt::Display) -> KeyStoreError {
    KeyStoreError::Unavailable(e.to_string())
}

/// A row as a record; a malformed stored value is a `FromSqlConversionFailure`.
fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("malformed {what} in api_keys").into(),
        )
    };
    let time = |i: usize, text: String| {
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.to_utc())
            .map_err(|_| bad(i, "time"))
    };
    let hash: String = row.get(0)?;
    Ok(ApiKeyRecord {
        hash: KeyHash::from_hex(&hash).ok_or_else(|| bad(0, "hash"))?,
        id: row.get(1)?,
        tenant: row.get(2)?,
        label: row.get(3)?,
        created_at: time(4, row.get(4)?)?,
        revoked_at: row
            .get::<_, Option<String>>(5)?
            .map(|t| time(5, t))
            .transpose()?,
        role: Role::from_stored(row.get::<_, Option<String>>(6)?.as_deref())
            .ok_or_else(|| bad(6, "role"))?,
    })
}

/// Fixed width (nanoseconds), so that the text sorts as the time does.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[async_trait]
impl ApiKeyStore for SqliteApiKeys {
    async fn find(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, KeyStoreError> {
        let g = self.db.lock();
        g.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE hash = ?1"))
            .and_then(|mut s| s.query_row([hash.to_hex()], record).optional())
            .map_err(unavailable)
    }

    async fn add(&self, r: &ApiKeyRecord) -> Result<(), KeyStoreError> {
        let g = self.db.lock();
        let added = g
            .conn
            .prepare_cached(&format!(
                "INSERT INTO api_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    r.hash.to_hex(),
                    r.id,
                    r.tenant,
                    r.label,
                    rfc3339(r.created_at),
                    r.revoked_at.map(rfc3339),
                    r.role.as_str(),
                ])
            });
        match added {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, Some(msg)))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(KeyStoreError::Duplicate(if msg.contains(".id") {
                    "id"
                } else {
                    "hash"
                }))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<ApiKeyRecord>, KeyStoreError> {
        let g = self.db.lock();
        g.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM api_keys \
                 WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR label = ?2) \
                 ORDER BY tenant, created_at, id"
            ))
            .and_then(|mut s| {
                s.query_map(params![filter.tenant, filter.label], record)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<ApiKeyRecord, KeyStoreError> {
        let g = self.db.lock();
        g.conn
            .prepare_cached(&format!(
                "UPDATE api_keys SET revoked_at = IFNULL(revoked_at, ?2) WHERE id = ?1 \
                 RETURNING {COLUMNS}"
            ))
            .and_then(|mut s| s.query_row(params![id, rfc3339(at)], record).optional())
            .map_err(unavailable)?
            .ok_or_else(|| KeyStoreError::NotFound(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_stored_before_roles_existed_read_as_admin_and_new_ones_keep_their_role() {
        let db = Db::open_in_memory().unwrap();
        db.lock()
            .conn
            .execute_batch(
                "CREATE TABLE api_keys (hash TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, \
                 tenant TEXT NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL, \
                 revoked_at TEXT) WITHOUT ROWID;",
            )
            .unwrap();
        let old = crm_core::api_keys::NewKey::generate("acme", "old", Utc::now()).unwrap();
        db.lock()
            .conn
            .execute(
                "INSERT INTO api_keys VALUES (?1, ?2, 'acme', 'old', ?3, NULL)",
                params![
                    old.record.hash.to_hex(),
                    old.record.id,
                    rfc3339(old.record.created_at)
                ],
            )
            .unwrap();
        let keys = db.api_keys().unwrap();
        let found = keys.find(&old.record.hash).await.unwrap().unwrap();
        assert_eq!(found.role, Role::Admin);
        let member = crm_core::api_keys::NewKey::generate("acme", "sales", Utc::now())
            .unwrap()
            .with_role(Role::Member);
        keys.add(&member.record).await.unwrap();
        let found = keys.find(&member.record.hash).await.unwrap().unwrap();
        assert_eq!(found.role, Role::Member);
        // Opening again does not add the column twice.
        db.api_keys().unwrap();
    }
}
