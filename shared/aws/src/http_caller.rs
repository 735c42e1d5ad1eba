//! The real [`HttpCaller`] (webhooks out), used by the Lambdas and the local
//! server: `reqwest` over rustls, with the destination guard applied at call
//! time — the host is resolved here, every address checked
//! ([`check_resolved`]), and the connection pinned to the checked address
//! (no DNS-rebinding window). Redirects are not followed (a 3xx is the
//! answer) and no proxy is used. At most [`MAX_RESPONSE_BYTES`] of an answer
//! are read.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use crm_core::http_call::{HttpCallError, HttpCaller, HttpRequest, HttpResponse};
use crm_core::webhook::guard::{AllowList, check_resolved, check_url, install_allow_list};

/// The environment variable of the operator's allow-list
/// (`127.0.0.1:8081,hooks.local:443`).
pub const ALLOW_ENV: &str = "CRM_WEBHOOK_ALLOW";
/// Most bytes of an answer read (the rest is dropped).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Install `CRM_WEBHOOK_ALLOW` as the process's allow-list (a bad entry is
/// logged and skipped).
pub fn install_allow_list_from_env() {
    let Ok(spec) = std::env::var(ALLOW_ENV) else {
        return;
    };
    let (list, bad) = AllowList::parse(&spec);
    for b in bad {
        tracing::warn!(entry = %b, "{ALLOW_ENV}: not host:port, ignored");
    }
    if !list.is_empty() {
        tracing::info!(%spec, "webhook destinations allow-listed");
    }
    install_allow_list(list);
}

/// Outbound HTTP over `reqwest`.
#[derive(Debug, Default, Clone)]
pub struct ReqwestCaller;

impl ReqwestCaller {
    pub fn new() -> Self {
        ReqwestCaller
    }
}

fn transport(e: impl std::fmt::Display) -> HttpCallError {
    HttpCallError::Transport(e.to_string())
}

#[async_trait]
impl HttpCaller for ReqwestCaller {
    async fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpCallError> {
        let dest = check_url(&request.url).map_err(|e| HttpCallError::Refused(e.0))?;
        let addrs: Vec<IpAddr> = match dest.host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((dest.host.as_str(), dest.port))
                .await
                .map_err(|e| transport(format!("cannot resolve '{}': {e}", dest.host)))?
                .map(|a| a.ip())
                .collect(),
        };
        let ip = check_resolved(&dest, &addrs).map_err(|e| HttpCallError::Refused(e.0))?;
        let timeout = Duration::from_secs(request.timeout_seconds.max(1));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .resolve(&dest.host, SocketAddr::new(ip, dest.port))
            .user_agent("crm-automation-webhooks/1")
            .build()
            .map_err(transport)?;
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(transport)?;
        let mut rb = client.request(method, dest.url.clone());
        for (k, v) in &request.headers {
            rb = rb.header(k, v);
        }
        if let Some(b) = &request.body {
            rb = rb.body(b.clone());
        }
        let started = Instant::now();
        let timed_out = |e: &reqwest::Error| e.is_timeout();
        let mut resp = match rb.send().await {
            Ok(r) => r,
            Err(e) if timed_out(&e) => return Err(HttpCallError::Timeout(timeout.as_secs())),
            Err(e) => return Err(transport(error_chain(&e))),
        };
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    let room = MAX_RESPONSE_BYTES - body.len();
                    body.extend_from_slice(&c[..c.len().min(room)]);
                    if body.len() >= MAX_RESPONSE_BYTES {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) if timed_out(&e) => return Err(HttpCallError::Timeout(timeout.as_secs())),
                Err(e) => return Err(transport(error_chain(&e))),
            }
        }
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            latency: started.elapsed(),
        })
    }
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
