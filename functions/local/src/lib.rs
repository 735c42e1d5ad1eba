//! `crm-automation`: the whole product in one local process.
//!
//! - [`runtime::Runtime`] owns the engine and ONE worker that processes the
//!   transactional outbox (stage changes), queued events (triggers) and due
//!   robot jobs, acking each only after it succeeded. The worker takes work
//!   through the consumer ports of `crm_core::work_source`; [`embedded`]
//!   builds it on the embedded SQLite adapters (`crm-embedded`).
//! - [`server::Server`] serves the API router of `crm-http` next to it, with a
//!   layer that wakes the worker after every write.
//! - [`clock`]: the system clock, or a manual clock moved by
//!   `POST /v1/clock/advance` ([`runtime::Runtime::advance`]).
//! - [`keys`]: API keys, stored hashed in the data directory's database
//!   (one generated and shown once on first start), or from `CRM_API_KEYS`;
//!   the admin key (moves the manual clock) likewise. [`keys_command`]: the
//!   `keys add|list|revoke` command, locally or on AWS.
//! - [`datadir`]: the data directory is private to its owner (0700, files
//!   0600).
//! - [`demo`]: the seed articles' pipeline for `--demo`.
//! - [`redrive_command`]: `crm-automation aws redrive`, a DLQ moved back to its queue.

pub mod cli;
pub mod clock;
pub mod datadir;
pub mod demo;
pub mod embedded;
pub mod keys;
pub mod keys_command;
pub mod redrive_command;
pub mod runtime;
pub mod senders;
pub mod server;
pub mod smtp_listener;
pub mod tls;

pub use clock::{ClockMode, RuntimeClock};
pub use runtime::{Runtime, RuntimeError, RuntimeOptions};
pub use server::{Limits, ServeConfig, Server};

/// The process allocates and frees many small values (JSON documents, the
/// strings of SQLite rows) on every robot run; mimalloc does that faster
/// than the system allocator (see BENCHMARKS.md). It is the allocator of
/// every program linking this library: the `crm-automation` binary, its
/// tests and its benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
