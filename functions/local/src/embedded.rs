//! The runtime on the embedded SQLite adapters (`crm-embedded`): the one
//! place of the local runtime that names them. The worker itself
//! ([`crate::runtime`]) only knows the ports.

use std::path::Path;
use std::sync::Arc;

use crm_embedded::{Db, EmbeddedError};

use crate::clock::RuntimeClock;
use crate::runtime::{Runtime, RuntimeError, RuntimeOptions};

impl From<EmbeddedError> for RuntimeError {
    fn from(e: EmbeddedError) -> Self {
        RuntimeError::Open(Box::new(e))
    }
}

impl Runtime {
    /// Open (or create) the database in `dir` and build the engine on it.
    /// The worker is not started: see [`Runtime::spawn_worker`].
    pub fn open(dir: &Path, clock: RuntimeClock) -> Result<Runtime, RuntimeError> {
        Runtime::open_with(dir, clock, RuntimeOptions::default())
    }

    /// As [`Runtime::open`], with these options (the server's senders).
    pub fn open_with(
        dir: &Path,
        clock: RuntimeClock,
        options: RuntimeOptions,
    ) -> Result<Runtime, RuntimeError> {
        let db = Db::open(dir)?;
        let parked = db.parked()?;
        if parked > 0 {
            tracing::warn!(
                parked,
                "the database holds queued jobs or events that could not be read (table `parked`)"
            );
        }
        Ok(Runtime::with_db(db, clock, options))
    }

    /// The runtime on an already opened database.
    pub fn with_db(db: Db, clock: RuntimeClock, mut options: RuntimeOptions) -> Runtime {
        if options.blobs.is_none() {
            match db.blobs() {
                Ok(b) => options.blobs = Some(b),
                Err(e) => {
                    tracing::error!(error = %e, "the blob directory cannot be opened; documents are kept in memory")
                }
            }
        }
        Runtime::new(
            Arc::new(db.store()),
            Arc::new(db.jobs()),
            Arc::new(db.events()),
            clock,
            options,
        )
    }
}
