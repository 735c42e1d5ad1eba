//! How a document's body is stored in its record's `body` attribute (issue
//! #11: DynamoDB bills every write by the item's size in whole kilobytes).
//!
//! - A short body, and every outbox record's body (read from the table's
//!   stream by the stage-change function), is the JSON text: `body` (S).
//! - A body of [`COMPRESS_FROM`] bytes or more is stored raw-DEFLATE
//!   compressed when that is smaller: `body` (B). A run record (~1.15 KB of
//!   JSON with its robot's settings snapshot) becomes ~0.5 KB, one write unit
//!   instead of two, for its primary record and its list entry alike.
//!
//! Compression is deterministic (same body, same bytes), so an identical
//! rewrite of a record is recognisable as such (see `DynamoStore::put_one`).
//! Reading accepts both forms, so records written before this change read
//! as before.

use std::io::{Read, Write};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use crm_core::ports::Kind;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde_json::Value;

/// Bodies of at least this many bytes of JSON are stored compressed (when
/// that is smaller); shorter ones gain nothing worth the opacity.
pub const COMPRESS_FROM: usize = 256;

/// Most bytes a compressed body may inflate to (DynamoDB's item limit is
/// 400 KB; a body that inflates further is corrupt, not a document).
const MAX_INFLATED: u64 = 4 * 1024 * 1024;

/// The `body` attribute of a document of `kind` whose JSON text is `json`.
pub fn encode(kind: Kind, json: String) -> AttributeValue {
    if kind == Kind::Outbox || json.len() < COMPRESS_FROM {
        return AttributeValue::S(json);
    }
    let mut enc = DeflateEncoder::new(Vec::with_capacity(json.len() / 2), Compression::best());
    let packed = enc.write_all(json.as_bytes()).and_then(|()| enc.finish());
    match packed {
        Ok(bytes) if bytes.len() < json.len() => AttributeValue::B(Blob::new(bytes)),
        _ => AttributeValue::S(json),
    }
}

/// The JSON text of raw-DEFLATE `bytes`.
fn inflate(bytes: &[u8]) -> Result<String, String> {
    let mut text = String::new();
    DeflateDecoder::new(bytes)
        .take(MAX_INFLATED)
        .read_to_string(&mut text)
        .map_err(|e| format!("body: not a compressed document: {e}"))?;
    Ok(text)
}

/// The body stored in a `body` attribute read from the table.
pub fn decode(attr: &AttributeValue) -> Result<Value, String> {
    let text = match attr {
        AttributeValue::S(s) => std::borrow::Cow::Borrowed(s.as_str()),
        AttributeValue::B(b) => std::borrow::Cow::Owned(inflate(b.as_ref())?),
        _ => return Err("attribute body is neither a string nor binary".into()),
    };
    serde_json::from_str(&text).map_err(|e| format!("body: {e}"))
}

/// A binary attribute in DynamoDB JSON, as a stream record's image carries
/// it (`{"B": "<base64>"}`).
pub fn binary_image(b: &Blob) -> Value {
    serde_json::json!({ "B": aws_smithy_types::base64::encode(b.as_ref()) })
}

/// The body in a stream image's DynamoDB JSON (`{"S": "…"}`, or `{"B":
/// "<base64>"}` as the wire format has it, or a list of byte values).
pub fn decode_image(attr: &Value) -> Option<Value> {
    if let Some(s) = attr.get("S").and_then(Value::as_str) {
        return serde_json::from_str(s).ok();
    }
    let bytes = match attr.get("B")? {
        Value::String(b64) => aws_smithy_types::base64::decode(b64).ok()?,
        Value::Array(a) => a
            .iter()
            .map(|v| v.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect::<Option<Vec<u8>>>()?,
        _ => return None,
    };
    serde_json::from_str(&inflate(&bytes).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_like() -> Value {
        json!({"id": "item-1:1:robot-1", "kind": "robot", "status": "pending",
            "robot": {"id": "robot-1", "type": "add_timeline_comment", "stage_id": "prep",
                "settings": {"text": "Call the client"}, "delay": {"mode": "immediately"},
                "condition": null, "after_previous": false, "respect_working_hours": false},
            "chain": {"hops": 0, "origin": "api"}, "outputs": {}, "attempts": 0,
            "reason": null, "due_at": "2026-11-23T08:44:00Z", "finished_at": null})
    }

    #[test]
    fn large_bodies_are_compressed_and_read_back() {
        let body = run_like();
        let json = serde_json::to_string(&body).unwrap();
        assert!(json.len() >= COMPRESS_FROM);
        let attr = encode(Kind::Run, json.clone());
        let AttributeValue::B(b) = &attr else {
            panic!("not compressed: {attr:?}")
        };
        assert!(
            b.as_ref().len() < json.len() * 3 / 4,
            "{} of {}",
            b.as_ref().len(),
            json.len()
        );
        assert_eq!(decode(&attr).unwrap(), body);
        assert_eq!(encode(Kind::Run, json.clone()), attr, "deterministic");
        assert_eq!(decode_image(&binary_image(b)), Some(body.clone()));
        let list: Vec<u8> = b.as_ref().to_vec();
        assert_eq!(decode_image(&json!({"B": list})), Some(body));
    }

    #[test]
    fn short_bodies_and_outbox_records_stay_text() {
        let short = r#"{"a":1}"#.to_string();
        assert_eq!(
            encode(Kind::Run, short.clone()),
            AttributeValue::S(short.clone())
        );
        let long = serde_json::to_string(&run_like()).unwrap();
        assert_eq!(
            encode(Kind::Outbox, long.clone()),
            AttributeValue::S(long.clone())
        );
        assert_eq!(decode(&AttributeValue::S(long)).unwrap(), run_like());
        assert_eq!(decode_image(&json!({"S": short})), Some(json!({"a": 1})));
    }

    #[test]
    fn corrupt_bodies_are_errors() {
        assert!(decode(&AttributeValue::B(Blob::new(vec![0xff, 0x00, 0x13]))).is_err());
        assert!(decode(&AttributeValue::N("1".into())).is_err());
        assert_eq!(decode_image(&json!({"B": "%%%"})), None);
    }
}
