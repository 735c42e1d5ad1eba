//! The HTTP server: the API router of `crm-http` on a TCP listener, with the
//! runtime's worker running beside it.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use chrono::{DateTime, Utc};
use crm_http::{ApiKeys, AppState};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::{ClockMode, RuntimeClock};
use crate::demo::{self, DemoLoaded};
use crate::keys::{KeyError, LoadedKeys, load_keys};
use crate::runtime::{Runtime, RuntimeError, WorkerHandle};

/// Everything `crm-automation serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub addr: String,
    /// Data directory (database and generated API key).
    pub data: PathBuf,
    /// System or manual clock.
    pub clock: ClockMode,
    /// Start of a manual clock (default: now).
    pub start_at: Option<DateTime<Utc>>,
    /// Load the demo pipeline.
    pub demo: bool,
    /// The value of `CRM_API_KEYS`, if set.
    pub api_keys: Option<String>,
}

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// API keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The database could not be opened.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The demo could not be loaded.
    #[error("loading the demo: {0}")]
    Demo(crm_core::error::EngineError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The API router with the worker layer: after every request that may have
/// queued work (anything but GET/HEAD/OPTIONS) the worker is woken, so
/// immediate robots run within milliseconds; before such a request, it waits
/// while the worker is far behind (back-pressure, see
/// [`Runtime::wait_for_capacity`]).
pub fn app(runtime: &Runtime, keys: ApiKeys) -> Router {
    let mut state = AppState::new(runtime.engine(), keys);
    if let Some(control) = runtime.clock_control() {
        state = state.with_clock(control);
    }
    let rt = runtime.clone();
    crm_http::router(state).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let rt = rt.clone();
            async move {
                let writes = !matches!(
                    *request.method(),
                    Method::GET | Method::HEAD | Method::OPTIONS
                );
                if writes {
                    rt.wait_for_capacity().await;
                }
                let response = next.run(request).await;
                if writes {
                    rt.note_write();
                }
                response
            }
        },
    ))
}

/// A running server: the HTTP listener and the worker.
pub struct Server {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// The runtime (engine, queues, clock).
    pub runtime: Runtime,
    /// The API keys in use.
    pub keys: LoadedKeys,
    /// What `--demo` loaded, if asked.
    pub demo: Option<DemoLoaded>,
    /// The configuration it was started with.
    pub config: ServeConfig,
    worker: WorkerHandle,
    http: JoinHandle<std::io::Result<()>>,
    stop: oneshot::Sender<()>,
}

impl Server {
    /// Open the data directory, load keys (and the demo), bind, and start
    /// serving and working in the background.
    pub async fn start(config: ServeConfig) -> Result<Server, ServeError> {
        let keys = load_keys(config.api_keys.as_deref(), &config.data)?;
        let runtime = Runtime::open(
            &config.data,
            RuntimeClock::new(config.clock, config.start_at),
        )?;
        let demo = if config.demo {
            Some(
                demo::load(&runtime.engine(), &keys.tenant)
                    .await
                    .map_err(ServeError::Demo)?,
            )
        } else {
            None
        };
        let listener =
            TcpListener::bind(&config.addr)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: config.addr.clone(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.addr.clone(),
            source,
        })?;
        let worker = runtime.spawn_worker();
        let router = app(&runtime, keys.keys.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let http = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, data = %config.data.display(), clock = %config.clock, "serving");
        Ok(Server {
            addr,
            runtime,
            keys,
            demo,
            config,
            worker,
            http,
            stop,
        })
    }

    /// `http://{addr}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop the worker, stop accepting connections, let in-flight requests
    /// finish (a clock advance in flight answers 500), then wait for the
    /// worker (unfinished work stays queued in the database).
    pub async fn shutdown(self) -> std::io::Result<()> {
        // Stop the work first, so that a long clock advance in flight ends
        // early instead of holding the HTTP shutdown.
        self.runtime.begin_shutdown();
        let _ = self.stop.send(());
        let served = match self.http.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        self.worker.shutdown().await;
        served
    }
}
