//! Signed, stateless tracking tokens:
//! `base64url(payload JSON) "." base64url(first 16 bytes of HMAC-SHA256)`,
//! the MAC taken over a version prefix and the payload's bytes under the
//! tenant's tracking key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Bytes of the MAC kept in a token (128 bits).
pub const MAC_BYTES: usize = 16;
/// Longest token accepted (longer ones are refused unread).
pub const MAX_TOKEN_LEN: usize = 4096;
/// What the MAC covers before the payload (a new format gets a new prefix).
const DOMAIN: &[u8] = b"crm-track-v1\0";

/// Open (the pixel) or click (a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackKind {
    #[serde(rename = "o")]
    Open,
    #[serde(rename = "c")]
    Click,
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackToken {
    #[serde(rename = "t")]
    pub tenant: String,
    #[serde(rename = "i")]
    pub item_id: String,
    #[serde(rename = "m")]
    pub outbound_id: String,
    #[serde(rename = "k")]
    pub kind: TrackKind,
    /// The original URL (clicks only).
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Why a token is refused (never told apart to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadToken {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match")]
    Forged,
}

fn mac(key: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(DOMAIN);
    mac.update(payload);
    mac
}

impl TrackToken {
    /// The token string, signed with `key`.
    pub fn sign(&self, key: &[u8]) -> String {
        let payload = serde_json::to_vec(self).expect("a token serializes");
        let tag = mac(key, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES])
        )
    }

    /// The payload of `token`, NOT verified: only to find whose key checks
    /// it ([`TrackToken::verify`]).
    pub fn peek(token: &str) -> Result<TrackToken, BadToken> {
        Ok(split(token)?.0)
    }

    /// The payload of `token` if `key` signed it.
    pub fn verify(token: &str, key: &[u8]) -> Result<TrackToken, BadToken> {
        let (parsed, payload, tag) = split(token)?;
        mac(key, &payload)
            .verify_truncated_left(&tag)
            .map_err(|_| BadToken::Forged)?;
        Ok(parsed)
    }
}

/// Payload, its bytes, and the MAC of a well-formed token.
fn split(token: &str) -> Result<(TrackToken, Vec<u8>, Vec<u8>), BadToken> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(BadToken::Malformed);
    }
    let (p, t) = token.split_once('.').ok_or(BadToken::Malformed)?;
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| BadToken::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(t).map_err(|_| BadToken::Malformed)?;
    if tag.len() != MAC_BYTES {
        return Err(BadToken::Malformed);
    }
    let parsed: TrackToken = serde_json::from_slice(&payload).map_err(|_| BadToken::Malformed)?;
    if parsed.url.is_some() != (parsed.kind == TrackKind::Click) {
        return Err(BadToken::Malformed);
    }
    Ok((parsed, payload, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(url: &str) -> TrackToken {
        TrackToken {
            tenant: "acme".into(),
            item_id: "deal-1".into(),
            outbound_id: "email-7".into(),
            kind: TrackKind::Click,
            url: Some(url.into()),
        }
    }

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_token_verifies_and_is_url_safe() {
        let t = click("https://example.com/pricing?a=1&b=2");
        let s = t.sign(KEY);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{s}"
        );
        assert_eq!(TrackToken::verify(&s, KEY), Ok(t.clone()));
        assert_eq!(TrackToken::peek(&s), Ok(t));
    }

    #[test]
    fn tampering_with_any_character_is_rejected() {
        let s = click("https://example.com/pricing").sign(KEY);
        for i in 0..s.len() {
            let mut b = s.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(b).unwrap();
            if forged == s {
                continue;
            }
            assert!(TrackToken::verify(&forged, KEY).is_err(), "char {i}");
        }
    }

    #[test]
    fn a_swapped_url_is_rejected() {
        let s = click("https://example.com/pricing").sign(KEY);
        let (_, tag) = s.split_once('.').unwrap();
        let other = serde_json::to_vec(&click("https://evil.example/")).unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(other));
        assert_eq!(TrackToken::verify(&forged, KEY), Err(BadToken::Forged));
        // peek still reads it: only verify decides.
        assert!(TrackToken::peek(&forged).is_ok());
    }

    #[test]
    fn another_key_is_rejected() {
        let s = click("https://example.com/").sign(b"tenant B's key");
        assert_eq!(TrackToken::verify(&s, KEY), Err(BadToken::Forged));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for bad in ["", ".", "abc", "abc.def", "e30.AAAAAAAAAAAAAAAAAAAAAA"] {
            assert!(TrackToken::verify(bad, KEY).is_err(), "{bad:?}");
        }
        assert_eq!(
            TrackToken::verify(&"a".repeat(MAX_TOKEN_LEN + 1), KEY),
            Err(BadToken::Malformed)
        );
        // An open token carrying a URL is not a token this engine makes.
        let mut open = click("https://example.com/");
        open.kind = TrackKind::Open;
        assert_eq!(
            TrackToken::verify(&open.sign(KEY), KEY),
            Err(BadToken::Malformed)
        );
    }
}
