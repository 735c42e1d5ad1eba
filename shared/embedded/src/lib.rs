//! crm-embedded: durable adapters of crm-core's ports in one SQLite file.
//!
//! [`Db`] opens (or creates) `<dir>/crm.sqlite`; [`SqliteStore`] (a
//! [`DocStore`](crm_core::ports::DocStore)), [`SqliteJobs`] (a
//! [`JobQueue`](crm_core::ports::JobQueue) and
//! [`Scheduler`](crm_core::ports::Scheduler)) and [`SqliteEvents`] (an
//! [`EventQueue`](crm_core::ports::EventQueue)) share one `Db`; the last two
//! also implement the consumer side that the local runtime takes work through
//! ([`DueJobs`](crm_core::work_source::DueJobs),
//! [`QueuedEvents`](crm_core::work_source::QueuedEvents)). Their semantics
//! are those of the in-memory reference adapters in `crm_core::memory`; the
//! contract suite in `crm-tests` checks both.
//!
//! # Durability
//!
//! The database runs in WAL mode with `synchronous=NORMAL`: a committed
//! transaction survives a killed process, but a power loss or an OS crash may
//! lose the last few committed transactions (the file itself stays
//! consistent). Jobs and events stay in their tables until they are acked, so
//! work taken but not finished before a crash is offered again after restart.
//! A queued job or event whose stored body cannot be read is moved to the
//! `parked` table ([`Db::parked`] counts them) instead of blocking the queue.
//!
//! # Concurrency
//!
//! One [`rusqlite::Connection`] sits behind a [`std::sync::Mutex`]; every
//! operation holds it only for a few fast SQLite statements. The async port
//! methods call SQLite directly (no `spawn_blocking`): a statement on a local
//! file takes microseconds, less than handing it to another thread would.
//! Other processes may open the same file; they wait for each other's writes
//! up to a busy timeout of [`BUSY_TIMEOUT`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crm_core::ports::{PortError, StoreError};
use rusqlite::{Connection, TransactionBehavior};

mod api_keys;
mod blobs;
mod events;
mod jobs;
mod store;

pub use api_keys::SqliteApiKeys;
pub use blobs::{BLOB_DIR, DirBlobs};
pub use events::SqliteEvents;
pub use jobs::SqliteJobs;
pub use store::SqliteStore;

/// Name of the database file inside the directory given to [`Db::open`].
pub const DB_FILE: &str = "crm.sqlite";

/// How long a write waits for another connection (another process) that
/// holds the write lock before failing with [`EmbeddedError::Sqlite`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema version stored in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 3;

/// The schema, run in one transaction at every open; every statement is
/// idempotent.
///
/// Documents live in a rowid table, in the order they were first written,
/// and are found through the unique `docs_by_key` index. Documents written
/// together (an item, its planned runs, its timeline) therefore share pages,
/// and rewriting a document's body (a run becoming final, an item's new
/// version) touches its data page only: no index holds the body or the
/// version. With time-ordered ids (`crm_core::system::TimeOrderedIds`), work
/// done in creation order — a backlog of delayed robots — reads and writes
/// few, neighbouring pages. (Version 1 kept the body in a `WITHOUT ROWID`
/// table ordered by key, where every run touched pages all over the file.)
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS docs (
    seq        INTEGER PRIMARY KEY,
    tenant     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    version    INTEGER NOT NULL,
    parent     TEXT,
    expires_at INTEGER,
    body       TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS docs_by_key ON docs (tenant, kind, id);
CREATE INDEX IF NOT EXISTS docs_by_parent ON docs (tenant, kind, parent, id);
CREATE INDEX IF NOT EXISTS docs_by_expiry ON docs (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS jobs (
    name      TEXT PRIMARY KEY,
    tenant    TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    due_at_ns INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    scheduled INTEGER NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_due ON jobs (due_at_ns, seq);
CREATE TABLE IF NOT EXISTS events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    body   TEXT NOT NULL,
    tenant TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS parked (
    seq   INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    key   TEXT NOT NULL,
    body  TEXT NOT NULL,
    error TEXT NOT NULL
);
PRAGMA user_version = 3;
";

/// From schema version 1, before [`SCHEMA`] (in the same transaction): the
/// key-ordered `docs` table steps aside for the rowid one.
const V1_ASIDE: &str = "
DROP INDEX IF EXISTS docs_by_parent;
DROP INDEX IF EXISTS docs_by_expiry;
ALTER TABLE docs RENAME TO docs_v1;
";

/// From schema version 1, after [`SCHEMA`]: the documents move into the rowid
/// table (jobs and events are unchanged).
const V1_COPY: &str = "
INSERT INTO docs (tenant, kind, id, version, parent, expires_at, body)
    SELECT tenant, kind, id, version, parent, expires_at, body FROM docs_v1
    ORDER BY tenant, kind, id;
DROP TABLE docs_v1;
";

/// From schema version 1 or 2, after [`SCHEMA`]: events learn their tenant
/// (for the per-tenant fair take); an unreadable body gets `''` and is parked
/// when taken.
const V2_EVENT_TENANT: &str = "
ALTER TABLE events ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
UPDATE events SET tenant = IFNULL(CAST(
    CASE WHEN json_valid(body) THEN json_extract(body, '$.tenant') END AS TEXT), '');
";

/// Indexes of schema version 3, after any migration: the per-tenant heads of
/// the queues (for the fair takes).
const V3_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS jobs_by_tenant_due ON jobs (tenant, due_at_ns, seq);
CREATE INDEX IF NOT EXISTS events_by_tenant ON events (tenant, seq);
";

/// Failures of the embedded adapters.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The database directory or file could not be created or secured.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The directory given to [`Db::open`] or one of its files.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// SQLite failed (I/O error, busy past [`BUSY_TIMEOUT`], corrupt file…).
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record could not be encoded or decoded.
    #[error("stored record: {0}")]
    Json(#[from] serde_json::Error),
    /// The file was written by a newer version of this crate.
    #[error("database schema version {found} is newer than the supported {SCHEMA_VERSION}")]
    Schema {
        /// The file's `user_version`.
        found: i64,
    },
}

impl From<EmbeddedError> for StoreError {
    fn from(e: EmbeddedError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<EmbeddedError> for PortError {
    fn from(e: EmbeddedError) -> Self {
        PortError::Unavailable(e.to_string())
    }
}

/// A handle on the database; cheap to clone (all clones share one connection).
#[derive(Clone)]
pub struct Db {
    inner: Arc<Mutex<Inner>>,
    /// The data directory (none for a database in memory).
    dir: Option<Arc<PathBuf>>,
}

/// What the mutex guards.
struct Inner {
    conn: Connection,
    /// Last job sequence number handed out (ties between equal due times are
    /// broken by it, so jobs due together come out in the order they went in).
    job_seq: i64,
    /// Jobs returned by [`SqliteJobs::due`] and not acked yet: name → seq of
    /// the row that was returned.
    taken_jobs: HashMap<String, i64>,
}

impl Db {
    /// Open `<dir>/crm.sqlite`, creating the directory, the file and the schema
    /// as needed.
    ///
    /// The files hold client contacts: a new directory is created 0700, the
    /// database file is created 0600 before SQLite opens it (SQLite gives its
    /// `-wal` and `-shm` files the same mode), and files of an existing
    /// database that group or others could read are narrowed to 0600.
    pub fn open(dir: &Path) -> Result<Db, EmbeddedError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| EmbeddedError::Io { path, source }
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io(dir))?;
        let path = dir.join(DB_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        drop(options.open(&path).map_err(io(&path))?);
        #[cfg(unix)]
        for suffix in ["", "-wal", "-shm", "-journal"] {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.join(format!("{DB_FILE}{suffix}"));
            if let Ok(meta) = std::fs::metadata(&file)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(path = %file.display(), "database file was readable by other users; narrowed to 0600");
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(io(&file))?;
            }
        }
        let mut db = Db::init(Connection::open(&path)?)?;
        db.dir = Some(Arc::new(dir.to_path_buf()));
        tracing::info!(path = %path.display(), "opened embedded database");
        Ok(db)
    }

    /// A private database in memory (gone when the last clone is dropped).
    pub fn open_in_memory() -> Result<Db, EmbeddedError> {
        Db::init(Connection::open_in_memory()?)
    }

    /// A [`SqliteStore`] on this database.
    pub fn store(&self) -> SqliteStore {
        SqliteStore::new(self.clone())
    }

    /// The blob store that goes with this database: files under
    /// `<dir>/blobs` ([`DirBlobs`]), or in memory for a database in memory.
    pub fn blobs(&self) -> Result<Arc<dyn crm_core::blob_store::BlobStore>, EmbeddedError> {
        match &self.dir {
            Some(dir) => Ok(Arc::new(DirBlobs::open(dir).map_err(|e| {
                EmbeddedError::Io {
                    path: dir.join(BLOB_DIR),
                    source: std::io::Error::other(e.to_string()),
                }
            })?)),
            None => Ok(Arc::new(crm_core::memory_blobs::MemoryBlobs::new())),
        }
    }

    /// A [`SqliteJobs`] on this database.
    pub fn jobs(&self) -> SqliteJobs {
        SqliteJobs::new(self.clone())
    }

    /// A [`SqliteEvents`] on this database.
    pub fn events(&self) -> SqliteEvents {
        SqliteEvents::new(self.clone())
    }

    fn init(mut conn: Connection) -> Result<Db, EmbeddedError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // In memory the journal mode stays "memory"; on a file it becomes "wal".
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            tracing::warn!(%mode, "SQLite refused WAL mode; writes will be slower");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(EmbeddedError::Schema { found });
        }
        // One transaction: a crash half way leaves the file as it was.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if found == 1 {
            tracing::info!("migrating the database from schema version 1 to 2");
            tx.execute_batch(V1_ASIDE)?;
        }
        tx.execute_batch(SCHEMA)?;
        if (1..3).contains(&found) {
            tracing::info!(from = found, "migrating the database to schema version 3");
            tx.execute_batch(V2_EVENT_TENANT)?;
        }
        if found == 1 {
            tx.execute_batch(V1_COPY)?;
        }
        tx.execute_batch(V3_INDEXES)?;
        tx.commit()?;
        conn.set_prepared_statement_cache_capacity(32);
        let job_seq: i64 =
            conn.query_row("SELECT IFNULL(MAX(seq), 0) FROM jobs", [], |row| row.get(0))?;
        Ok(Db {
            inner: Arc::new(Mutex::new(Inner {
                conn,
                job_seq,
                taken_jobs: HashMap::new(),
            })),
            dir: None,
        })
    }

    /// Take the connection. A panic while it was held cannot have left a
    /// transaction open (rusqlite rolls back on drop), so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Move a queued row whose body cannot be read (written by another version,
/// or damaged) to the `parked` table, with the reason, in one transaction
/// with `delete` (which removes it from its queue). It stays there for an
/// operator; it no longer blocks the rows behind it.
fn park(
    conn: &mut Connection,
    queue: &str,
    key: &str,
    body: &str,
    error: &str,
    delete: (&str, &[&dyn rusqlite::ToSql]),
) -> Result<(), EmbeddedError> {
    tracing::error!(queue, key, error, "unreadable queued row parked");
    let tx = conn.transaction()?;
    tx.prepare_cached("INSERT INTO parked (queue, key, body, error) VALUES (?1, ?2, ?3, ?4)")?
        .execute((queue, key, body, error))?;
    tx.prepare_cached(delete.0)?.execute(delete.1)?;
    tx.commit()?;
    Ok(())
}

impl Db {
    /// Number of parked rows (queued jobs or events that could not be read).
    pub fn parked(&self) -> Result<usize, EmbeddedError> {
        let g = self.lock();
        let n: i64 = g
            .conn
            .prepare_cached("SELECT COUNT(*) FROM parked")?
            .query_row([], |row| row.get(0))?;
        Ok(count(n))
    }

    /// Number of parked rows of one queue (`"jobs"` or `"events"`).
    fn parked_in(&self, queue: &str) -> Result<usize, EmbeddedError> {
        let g = self.lock();
        let n: i64 = g
            .conn
            .prepare_cached("SELECT COUNT(*) FROM parked WHERE queue = ?1")?
            .query_row([queue], |row| row.get(0))?;
        Ok(count(n))
    }
}

/// `limit` as an SQL `LIMIT` value.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A row count as `usize`.
fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests;
