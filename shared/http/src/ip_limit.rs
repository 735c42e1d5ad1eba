//! [`IpLimiter`]: the per-IP limit of the public, keyless tracking routes
//! (`/t/o/…`, `/t/c/…`): a token bucket per client address (a
//! [`TenantThrottle`] keyed by IP) of 60 requests at once, refilled by one a
//! second (60 a minute); beyond it 429 with `Retry-After`.
//!
//! The client's address is the TCP peer when the server put one in the
//! request ([`ConnectInfo`]; the local server does), else the last
//! `X-Forwarded-For` entry (the one API Gateway appends, which a client
//! cannot forge), else one shared bucket.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::throttle::{TenantThrottle, ThrottleConfig};
use crate::ticker::{SystemTicker, Ticker};

/// The default limit: bursts of 60, one more a second.
pub const DEFAULT_IP_LIMIT: ThrottleConfig = ThrottleConfig { rate: 1, burst: 60 };

/// Token buckets per client address.
#[derive(Debug)]
pub struct IpLimiter {
    buckets: TenantThrottle,
}

impl Default for IpLimiter {
    fn default() -> Self {
        Self::with_ticker(DEFAULT_IP_LIMIT, Arc::new(SystemTicker::new()))
    }
}

impl IpLimiter {
    /// `limit` per address on `ticker`'s time (tests).
    pub fn with_ticker(limit: ThrottleConfig, ticker: Arc<dyn Ticker>) -> Self {
        IpLimiter {
            buckets: TenantThrottle::with_ticker(limit, ticker),
        }
    }

    /// Take one token of `ip`'s bucket; `Err(seconds)` until one is back.
    pub fn check(&self, ip: &str) -> Result<(), u64> {
        self.buckets.check(ip)
    }
}

/// The client's address as this module's documentation says.
pub fn client_ip(request: &Request) -> String {
    client_ip_of(request.extensions(), request.headers())
}

/// The client's address from a request's extensions and headers: the
/// connection's peer ([`ConnectInfo`]: the local server, and the api
/// function from API Gateway's `sourceIp`), else the last `X-Forwarded-For`
/// entry (the one API Gateway appends; earlier entries are the client's own
/// word), else `unknown`. Every public route's limit counts by it.
pub fn client_ip_of(
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> String {
    if let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() {
        return peer.ip().to_string();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|s| !s.is_empty())
        .filter(|s| s.len() <= 64)
        .map_or_else(|| "unknown".to_string(), str::to_string)
}

/// Middleware: 429 with `Retry-After` once the caller's address is over
/// its limit.
pub async fn limit_per_ip(
    State(limiter): State<Arc<IpLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&request);
    match limiter.check(&ip) {
        Ok(()) => next.run(request).await,
        Err(secs) => {
            tracing::info!(%ip, "tracking route rate limit reached");
            ApiError::too_many_requests(secs).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;

    use super::*;
    use crate::ticker::ManualTicker;

    #[test]
    fn sixty_at_once_then_one_a_second_per_address() {
        let ticker = Arc::new(ManualTicker::new());
        let l = IpLimiter::with_ticker(DEFAULT_IP_LIMIT, ticker.clone());
        for _ in 0..60 {
            l.check("198.51.100.1").unwrap();
        }
        assert_eq!(l.check("198.51.100.1"), Err(1));
        l.check("198.51.100.2").unwrap();
        ticker.advance(Duration::from_secs(1));
        l.check("198.51.100.1").unwrap();
        assert_eq!(l.check("198.51.100.1"), Err(1));
    }

    #[test]
    fn the_address_is_the_peer_else_the_last_forwarded_entry() {
        let mut r = Request::new(Body::empty());
        assert_eq!(client_ip(&r), "unknown");
        r.headers_mut()
            .insert("x-forwarded-for", "10.0.0.1, 203.0.113.7".parse().unwrap());
        assert_eq!(client_ip(&r), "203.0.113.7");
        r.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 5], 4000))));
        assert_eq!(client_ip(&r), "192.0.2.5");
    }
}
