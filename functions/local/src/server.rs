//! The HTTP server: the API router of `crm-http` on a TCP listener, with the
//! runtime's worker running beside it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use chrono::{DateTime, Utc};
use crm_embedded::{Db, EmbeddedError};
use crm_http::{
    ApiKeys, AppState, CachedKeys, ClockControl, KeyCacheConfig, TenantThrottle, ThrottleConfig,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::clock::{ClockFileError, ClockMode, RuntimeClock, SavedClock, save_time, saved_time};
use crate::datadir::prepare_data_dir;
use crate::demo::{self, DemoLoaded};
use crate::keys::{AdminKey, KeyError, LoadedKeys, load_admin_key, load_keys};
use crate::runtime::{Runtime, RuntimeError, RuntimeWriteGate, WorkerHandle};

/// Everything `crm-automation serve` needs.
#[derive(Clone)]
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
    /// The value of `CRM_ADMIN_KEY`, if set (otherwise a generated key kept
    /// in the data directory): the key that moves the manual clock.
    pub admin_key: Option<String>,
    /// Timeouts and the connection limit of the HTTP listener.
    pub limits: Limits,
    /// The per-tenant request limit (`--tenant-rate`, `--tenant-burst`).
    pub throttle: ThrottleConfig,
    /// Serve HTTPS with this certificate and key (`--tls-cert`,
    /// `--tls-key`); `None`: plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    /// Listen for incoming email by SMTP here (`--smtp-listen`,
    /// `CRM_SMTP_LISTEN`); `None`: no listener.
    pub smtp_listen: Option<String>,
    /// The domain of the tenants' inbound addresses (`--inbound-domain`,
    /// `CRM_INBOUND_DOMAIN`); with a listener and without it, the domain of
    /// `CRM_MAIL_FROM`, else `localhost`.
    pub inbound_domain: Option<String>,
    /// How long finished runs and sent messages are kept
    /// (`--run-retention-days`, `--message-retention-days`; 365 days each).
    pub retention: crm_core::retention::Retention,
}

impl std::fmt::Debug for ServeConfig {
    /// Never prints the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("addr", &self.addr)
            .field("data", &self.data)
            .field("clock", &self.clock)
            .field("start_at", &self.start_at)
            .field("demo", &self.demo)
            .field("api_keys", &self.api_keys.as_ref().map(|_| "<set>"))
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<set>"))
            .field("limits", &self.limits)
            .field("throttle", &self.throttle)
            .field("tls", &self.tls)
            .field("smtp_listen", &self.smtp_listen)
            .field("inbound_domain", &self.inbound_domain)
            .field("retention", &self.retention)
            .finish()
    }
}

impl Default for ServeConfig {
    /// `127.0.0.1:8080`, `./data`, the system clock, no demo, generated keys,
    /// default [`Limits`], the default per-tenant limit
    /// ([`ThrottleConfig::DEFAULT`]).
    fn default() -> Self {
        ServeConfig {
            addr: "127.0.0.1:8080".into(),
            data: PathBuf::from("./data"),
            clock: ClockMode::System,
            start_at: None,
            demo: false,
            api_keys: None,
            admin_key: None,
            limits: Limits::default(),
            throttle: ThrottleConfig::DEFAULT,
            tls: None,
            smtp_listen: None,
            inbound_domain: None,
            retention: crm_core::retention::Retention::default(),
        }
    }
}

/// Protection of the listener against slow or stalled clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a request's headers, counted from the
    /// connection's start or from the end of the previous response; it is
    /// also the idle timeout of a kept-alive connection. Past it the
    /// connection is closed (hyper's `header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Longest wait for the next piece of a request body; past it the
    /// request is answered 408 (a `Content-Length` that claims more than is
    /// sent). `tower_http`'s `RequestBodyTimeoutLayer`.
    pub body_timeout: Duration,
    /// Open connections served at once; a connection beyond it is answered
    /// 503 and closed at once.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 15 s to send headers (and idle keep-alive), 10 s between pieces of a
    /// body, 1,024 connections.
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
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
    /// The key store (in the database) could not be opened.
    #[error("the API key store: {0}")]
    KeyStore(#[from] EmbeddedError),
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}", path = .0.display(), source = .1)]
    DataDir(PathBuf, std::io::Error),
    /// The manual clock's saved time could not be read or written.
    #[error(transparent)]
    Clock(#[from] ClockFileError),
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
    /// `--tls-cert` / `--tls-key` cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The email or SMS sender's configuration cannot be used.
    #[error(transparent)]
    Senders(#[from] crate::senders::SenderConfigError),
}

/// How the router authenticates and limits callers.
#[derive(Default)]
pub struct Auth {
    /// Keys given at start (`CRM_API_KEYS`), hashed.
    pub keys: ApiKeys,
    /// The admin key given at start (`CRM_ADMIN_KEY`), if any.
    pub admin_key: Option<String>,
    /// The key store (the data directory's database) behind its cache.
    pub store: Option<CachedKeys>,
    /// The per-tenant limit (`None`: none).
    pub throttle: Option<ThrottleConfig>,
}

/// The API router with the worker layer: after every request that may have
/// queued work (anything but GET/HEAD/OPTIONS) the worker is woken, so
/// immediate robots run within milliseconds; before a tenant's such request,
/// it waits while the worker is far behind on that tenant's work
/// (back-pressure per tenant, see [`Runtime::admit_write`]). Only `keys`
/// authenticate; no limit.
pub fn app(runtime: &Runtime, keys: ApiKeys) -> Router {
    app_with(
        runtime,
        Auth {
            keys,
            ..Auth::default()
        },
        None,
    )
}

/// [`app`] with the key store, the admin key (the only key that moves the
/// manual clock), the per-tenant limit, and the data directory where the
/// manual clock's time is kept, so that it does not go back on a restart.
pub fn app_with(runtime: &Runtime, auth: Auth, clock_dir: Option<&Path>) -> Router {
    let mut state = AppState::new(runtime.engine(), auth.keys)
        .with_write_gate(Arc::new(RuntimeWriteGate(runtime.clone())));
    if let Some(control) = runtime.clock_control() {
        let control = match clock_dir {
            Some(dir) => Arc::new(SavedClock::new(control, dir)) as Arc<dyn ClockControl>,
            None => control,
        };
        state = state.with_clock(control);
    }
    if let Some(admin) = auth.admin_key {
        state = state.with_admin_key(admin);
    }
    if let Some(store) = auth.store {
        state = state.with_key_store(store);
    }
    if let Some(limit) = auth.throttle.filter(ThrottleConfig::is_enabled) {
        state = state.with_throttle(TenantThrottle::new(limit));
    }
    let rt = runtime.clone();
    crm_http::router(state).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let rt = rt.clone();
            async move {
                let writes = crm_http::is_write(request.method());
                let response = next.run(request).await;
                if writes {
                    rt.notify();
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
    /// The admin key (moves the manual clock).
    pub admin: AdminKey,
    /// What `--demo` loaded, if asked.
    pub demo: Option<DemoLoaded>,
    /// Where emails and SMS go (`CRM_SMTP_URL`, `CRM_SMS_GATEWAY_URL`, …).
    pub senders: crate::senders::SendersSummary,
    /// The configuration it was started with.
    pub config: ServeConfig,
    /// The SMTP listener for incoming email, when asked for.
    pub smtp: Option<crate::smtp_listener::SmtpListener>,
    worker: WorkerHandle,
    http: JoinHandle<std::io::Result<()>>,
    stop: oneshot::Sender<()>,
}

impl Server {
    /// Open the data directory, load keys (and the demo), bind, and start
    /// serving and working in the background.
    pub async fn start(config: ServeConfig) -> Result<Server, ServeError> {
        prepare_data_dir(&config.data).map_err(|e| ServeError::DataDir(config.data.clone(), e))?;
        // A connection of its own: key lookups never wait for the worker's.
        let key_store = Db::open(&config.data)?.api_keys()?;
        let keys = load_keys(
            config.api_keys.as_deref(),
            &config.data,
            &key_store,
            Utc::now(),
        )
        .await?;
        let admin = load_admin_key(
            config.admin_key.as_deref(),
            &config.data,
            &key_store,
            &keys.keys,
            Utc::now(),
        )
        .await?;
        let start_at = match config.clock {
            ClockMode::System => config.start_at,
            ClockMode::Manual => {
                let asked = config.start_at.unwrap_or_else(Utc::now);
                let start = match saved_time(&config.data)? {
                    Some(saved) if saved > asked => {
                        tracing::info!(%saved, %asked, "the manual clock resumes where it stopped (it never goes back)");
                        saved
                    }
                    _ => asked,
                };
                save_time(&config.data, start)?;
                Some(start)
            }
        };
        let mut options = crate::runtime::RuntimeOptions::default();
        options.engine.retention = config.retention;
        let (delivery, senders) =
            crate::senders::from_env(|k| std::env::var(k).ok(), options.http.clone())?;
        tracing::info!(email = %senders.email, sms = %senders.sms, "outbound senders");
        options.delivery = Arc::new(delivery);
        let runtime = Runtime::open_with(
            &config.data,
            RuntimeClock::new(config.clock, start_at),
            options,
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
        let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
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
        runtime
            .engine()
            .set_public_url(&public_url(config.tls.is_some(), addr));
        let smtp = start_inbound(&config, &runtime).await?;
        let worker = runtime.spawn_worker();
        let auth = Auth {
            keys: keys.keys.clone(),
            admin_key: admin.from_env().map(str::to_owned),
            store: Some(CachedKeys::new(
                Arc::new(key_store),
                KeyCacheConfig::default(),
            )),
            throttle: Some(config.throttle),
        };
        let router = app_with(&runtime, auth, Some(&config.data))
            .layer(RequestBodyTimeoutLayer::new(config.limits.body_timeout));
        let (stop, stopped) = oneshot::channel::<()>();
        let http = tokio::spawn(serve(listener, router, config.limits, tls, stopped));
        tracing::info!(%addr, data = %config.data.display(), clock = %config.clock, "serving");
        Ok(Server {
            addr,
            runtime,
            keys,
            admin,
            demo,
            senders,
            config,
            smtp,
            worker,
            http,
            stop,
        })
    }

    /// `http://{addr}`, or `https://{addr}` when serving TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Stop the worker, stop accepting connections, let in-flight requests
    /// finish (a clock advance in flight answers 500), then wait for the
    /// worker (unfinished work stays queued in the database).
    pub async fn shutdown(self) -> std::io::Result<()> {
        // Stop the work first, so that a long clock advance in flight ends
        // early instead of holding the HTTP shutdown.
        self.runtime.begin_shutdown();
        if let Some(smtp) = self.smtp {
            smtp.shutdown().await;
        }
        let _ = self.stop.send(());
        let served = match self.http.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        self.worker.shutdown().await;
        served
    }
}

/// What a connection beyond [`Limits::max_connections`] is told before it is
/// closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
connection: close\r\n\
retry-after: 1\r\n\
content-length: 96\r\n\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"too many open connections; retry later\",\"details\":[]}}";

/// Accept connections until `stop` fires, serving each with hyper's HTTP/1
/// server (header-read / idle timeout from `limits`) under a connection
/// limit; then let open connections finish (idle ones are closed).
async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off a little.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, max = limits.max_connections, "connection limit reached; answered 503");
                    // Best effort and never blocking: the socket is closed right after.
                    let _ = stream.try_write(BUSY);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                if let Some(acceptor) = &tls {
                    // The handshake runs on the connection's own task, under
                    // the header-read timeout.
                    let (acceptor, http1, router) = (acceptor.clone(), http1.clone(), router.clone());
                    let watcher = graceful.watcher();
                    let handshake_timeout = limits.header_read_timeout;
                    tokio::spawn(async move {
                        let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        };
                        let conn = http1.serve_connection(
                            TokioIo::new(stream),
                            TowerToHyperService::new(with_peer(router, peer)),
                        );
                        if let Err(e) = watcher.watch(conn).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        drop(permit);
                    });
                    continue;
                }
                let conn = http1.serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(with_peer(router.clone(), peer)),
                );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The router with the connection's peer address as axum's `ConnectInfo`
/// on every request (what the public endpoints limit per client IP by).
fn with_peer(
    router: axum::Router,
    peer: std::net::SocketAddr,
) -> tower::util::MapRequest<axum::Router, impl Fn(PeerRequest) -> PeerRequest + Clone> {
    tower::util::MapRequest::new(router, move |mut r: PeerRequest| {
        r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        r
    })
}

/// A request as hyper hands it to the router.
type PeerRequest = axum::http::Request<hyper::body::Incoming>;

/// Base URL of the links in tracked emails: `CRM_PUBLIC_URL`, else the
/// server's own address (`http(s)://127.0.0.1:<port>` when listening on
/// every interface).
fn public_url(tls: bool, addr: SocketAddr) -> String {
    if let Ok(url) = std::env::var(PUBLIC_URL_ENV)
        && !url.trim().is_empty()
    {
        return url;
    }
    let scheme = if tls { "https" } else { "http" };
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("{scheme}://{addr}")
}

/// Turn incoming email on when configured: the inbound domain on the
/// engine, and the SMTP listener.
async fn start_inbound(
    config: &ServeConfig,
    runtime: &Runtime,
) -> Result<Option<crate::smtp_listener::SmtpListener>, ServeError> {
    let domain = config.inbound_domain.clone().or_else(|| {
        config.smtp_listen.as_ref().map(|_| {
            std::env::var(crate::senders::MAIL_FROM_ENV)
                .ok()
                .and_then(|from| {
                    let addr = from.rsplit_once('<').map_or(from.as_str(), |(_, a)| a);
                    addr.trim_end_matches('>')
                        .rsplit_once('@')
                        .map(|(_, d)| d.trim().to_string())
                })
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "localhost".to_string())
        })
    });
    let Some(domain) = domain else {
        return Ok(None);
    };
    runtime.engine().set_inbound_domain(&domain);
    tracing::info!(%domain, "incoming email: robots' emails to clients reply to this domain");
    let Some(addr) = &config.smtp_listen else {
        return Ok(None);
    };
    let listener = crate::smtp_listener::SmtpListener::start(addr, &domain, runtime.clone())
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    Ok(Some(listener))
}

/// The environment variable naming the public base URL.
pub const PUBLIC_URL_ENV: &str = "CRM_PUBLIC_URL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "unavailable");
    }
}
