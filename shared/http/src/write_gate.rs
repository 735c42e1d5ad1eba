//! Back-pressure per tenant: a hook the local server gives the router so
//! that a tenant's writes wait while the work they queue is far behind —
//! that tenant's, not everyone's.

use async_trait::async_trait;
use http::Method;

/// Whether a request with this method is a write: anything but GET, HEAD
/// and OPTIONS. The write gate admits these; the local server wakes its
/// worker after them.
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Admits a tenant's write (any request but GET, HEAD and OPTIONS made with
/// the tenant's API key), after the per-tenant request limit let it through.
#[async_trait]
pub trait WriteGate: Send + Sync {
    /// Returns when `tenant` may write: at once, or after waiting (bounded)
    /// while that tenant's own queued work is over the gate's limit.
    async fn admit(&self, tenant: &str);
}
