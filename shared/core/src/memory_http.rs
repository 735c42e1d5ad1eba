//! A recording [`HttpCaller`] for tests: answers from a script (200 `{}`
//! when the script is empty), resolves host names from a table (a public
//! address by default) and applies the same destination guard as the real
//! adapter, so that refusals can be tested without a network.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::http_call::{HttpCallError, HttpCaller, HttpRequest, HttpResponse};
use crate::webhook::guard::{check_resolved, check_url};

/// The address names resolve to unless [`MemHttp::resolve`] says otherwise.
pub const PUBLIC_ADDRESS: &str = "93.184.216.34";

/// Recording fake of the outbound-HTTP port.
#[derive(Default)]
pub struct MemHttp {
    calls: Mutex<Vec<HttpRequest>>,
    script: Mutex<VecDeque<Result<HttpResponse, HttpCallError>>>,
    dns: Mutex<HashMap<String, Vec<IpAddr>>>,
}

impl MemHttp {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call gets this answer (JSON body).
    pub fn respond(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        self.script.lock().unwrap().push_back(Ok(HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
            body: body.to_string(),
            latency: Duration::from_millis(5),
        }));
    }

    /// The next call fails with `e`.
    pub fn fail(&self, e: HttpCallError) {
        self.script.lock().unwrap().push_back(Err(e));
    }

    /// `host` resolves to `ips`.
    pub fn resolve(&self, host: &str, ips: &[&str]) {
        self.dns.lock().unwrap().insert(
            host.to_ascii_lowercase(),
            ips.iter()
                .map(|i| i.parse().expect("an IP address"))
                .collect(),
        );
    }

    /// Every request that left (passed the guard), in order.
    pub fn calls(&self) -> Vec<HttpRequest> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl HttpCaller for MemHttp {
    async fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpCallError> {
        let dest = check_url(&request.url).map_err(|e| HttpCallError::Refused(e.0))?;
        let addrs: Vec<IpAddr> = match dest.host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self
                .dns
                .lock()
                .unwrap()
                .get(&dest.host)
                .cloned()
                .unwrap_or_else(|| vec![PUBLIC_ADDRESS.parse().unwrap()]),
        };
        check_resolved(&dest, &addrs).map_err(|e| HttpCallError::Refused(e.0))?;
        self.calls.lock().unwrap().push(request.clone());
        self.script.lock().unwrap().pop_front().unwrap_or_else(|| {
            Ok(HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: "{}".into(),
                latency: Duration::from_millis(5),
            })
        })
    }
}
