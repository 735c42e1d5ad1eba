//! The site tracker: `GET /t/tracker.js` and the beacon `POST /t/v`.
//!
//! Put on every page of the site:
//! `<script src="https://<server>/t/tracker.js" data-site-key="sk_…" async></script>`.
//! The script keeps a visitor id (32 random hex digits) in a first-party
//! cookie and localStorage (`crm_v`, a year), exposes it as
//! `window.crmVisitorId` (web forms embedded on the site send it as their
//! `crm_v` field) and sends one beacon per page view with
//! `navigator.sendBeacon` (`text/plain`, so no CORS preflight):
//! `{site_key, visitor_id, url, referrer}`.
//!
//! The beacon answers 204; an unknown or deleted site key → 403 with no
//! side effects; a bad visitor id or URL → 422 naming it; over 120 beacons a
//! minute from one address → 429.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm_core::site_tracker::Beacon;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

use super::forms::Req;
use super::{client_ip, limit, rate_limit};
use crate::error::{ApiError, ErrorBody};
use crate::schemas;
use crate::state::AppState;

/// The tracker script (static: the site key is read from its tag).
pub const TRACKER_JS: &str = r#"(function(){var s=document.currentScript;if(!s)return;
var key=s.getAttribute("data-site-key");if(!key)return;
var base=new URL(s.src,location.href).origin,ok=/^[A-Za-z0-9_-]{8,64}$/;
var m=document.cookie.match(/(?:^|; )crm_v=([^;]*)/),v=m?m[1]:"";
if(!ok.test(v)){try{v=localStorage.getItem("crm_v")||""}catch(e){}}
if(!ok.test(v)){var b=new Uint8Array(16);crypto.getRandomValues(b);v=Array.prototype.map.call(b,function(x){return(x+256).toString(16).slice(1)}).join("")}
try{localStorage.setItem("crm_v",v)}catch(e){}
document.cookie="crm_v="+v+";path=/;max-age=31536000;SameSite=Lax";
window.crmVisitorId=v;
var body=JSON.stringify({site_key:key,visitor_id:v,url:location.href,referrer:document.referrer||null});
if(navigator.sendBeacon){navigator.sendBeacon(base+"/t/v",new Blob([body],{type:"text/plain"}))}
else{fetch(base+"/t/v",{method:"POST",body:body,mode:"no-cors",keepalive:true})}})();
"#;

/// The tracker script.
#[utoipa::path(
    get,
    path = "/t/tracker.js",
    tag = "public",
    responses((status = 200, description = "The tracker (`<script src=\".../t/tracker.js\" data-site-key=\"sk_…\" async>`)", content((crate::handlers::documents::BinaryFile = "text/javascript")))),
    security(())
)]
pub async fn tracker_js() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        TRACKER_JS,
    )
        .into_response()
}

/// A page view.
#[utoipa::path(
    post,
    path = "/t/v",
    tag = "public",
    request_body(
        content = schemas::Beacon,
        description = "`{site_key, visitor_id, url, referrer}` as JSON (sent as `text/plain` or `application/json`)",
        example = json!({"site_key": "sk_0123456789abcdef0123456789abcdef", "visitor_id": "5f0c2a9e4b7d4e1a9c3b2d1e0f9a8b7c", "url": "https://shop.example/pricing", "referrer": null})
    ),
    responses(
        (status = 204, description = "Recorded (a visitor tied to a client raised `site_visit`, and `client_returned` after 30 minutes away)"),
        (status = 400, description = "Not a JSON beacon", body = ErrorBody),
        (status = 403, description = "Unknown site key: nothing recorded", body = ErrorBody),
        (status = 422, description = "Bad `visitor_id`, `url` or `referrer`", body = ErrorBody),
        (status = 429, description = "Over 120 beacons a minute from this address", body = ErrorBody),
    ),
    security(())
)]
pub async fn beacon(State(state): State<AppState>, Req(parts): Req, body: Bytes) -> Response {
    let answer = async {
        limit(
            &state,
            &format!("beacon|{}", client_ip(&parts)),
            rate_limit::BEACONS,
        )?;
        let beacon: Beacon = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("body", format!("not a beacon: {e}")))?;
        let Some(tenant) = state.engine.site_key_tenant(&beacon.site_key).await? else {
            return Err(ApiError::forbidden("unknown site key"));
        };
        state.engine.record_visit(&tenant, &beacon).await?;
        Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    let mut r = answer.unwrap_or_else(IntoResponse::into_response);
    r.headers_mut()
        .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    r
}
