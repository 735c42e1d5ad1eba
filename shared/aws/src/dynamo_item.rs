//! The records of one document in the table (see [`crate::dynamo`] for the
//! layout): keys, the attributes of a record, and decoding a record read
//! from the table or from the table's stream.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use crm_core::ports::{Doc, DocKey, Kind, StoreError};
use serde::Serialize;

use crate::dynamo::SK_PRIMARY;

/// Escape the tenant for use in a key: `%` → `%25`, `#` → `%23`.
fn tenant_part(tenant: &str) -> Cow<'_, str> {
    if tenant.contains(['%', '#']) {
        Cow::Owned(tenant.replace('%', "%25").replace('#', "%23"))
    } else {
        Cow::Borrowed(tenant)
    }
}

/// Partition key of a document's primary record: `{tenant}#{kind}#{id}`.
pub fn primary_pk(key: &DocKey) -> String {
    format!("{}#{}#{}", tenant_part(&key.tenant), key.kind, key.id)
}

/// Partition key of the list entries of (tenant, kind, parent): `{tenant}#{kind}@{parent}`.
pub fn list_pk(tenant: &str, kind: Kind, parent: &str) -> String {
    format!("{}#{kind}@{parent}", tenant_part(tenant))
}

/// The parent a document is stored once under, as its list entry, because
/// its id names it ([`Kind::parent_of_id`]); `None`: a primary record.
pub fn stored_once(key: &DocKey) -> Option<&str> {
    key.kind.parent_of_id(&key.id)
}

/// The key (`pk`, `sk`) of the item a document is read by key from: its
/// list entry if it is [`stored_once`], else its primary record.
pub fn record_key(key: &DocKey) -> (String, String) {
    match stored_once(key) {
        Some(parent) => (list_pk(&key.tenant, key.kind, parent), key.id.clone()),
        None => (primary_pk(key), SK_PRIMARY.to_owned()),
    }
}

/// The attributes of a document's record (primary or list entry).
pub(crate) fn doc_item(
    doc: &Doc,
    pk: String,
    sk: String,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let body = serde_json::to_string(&doc.body)
        .map_err(|e| StoreError::Invalid(format!("{}: body not serializable: {e}", doc.key)))?;
    let mut item = HashMap::with_capacity(9);
    item.insert("pk".to_owned(), AttributeValue::S(pk));
    item.insert("sk".to_owned(), AttributeValue::S(sk));
    item.insert(
        "tenant".to_owned(),
        AttributeValue::S(doc.key.tenant.clone()),
    );
    item.insert(
        "kind".to_owned(),
        AttributeValue::S(doc.key.kind.as_str().to_owned()),
    );
    item.insert("id".to_owned(), AttributeValue::S(doc.key.id.clone()));
    item.insert(
        "version".to_owned(),
        AttributeValue::N(doc.version.to_string()),
    );
    if let Some(p) = &doc.parent {
        item.insert("parent".to_owned(), AttributeValue::S(p.clone()));
    }
    if let Some(t) = doc.expires_at {
        item.insert("expires_at".to_owned(), AttributeValue::N(t.to_string()));
    }
    item.insert(
        "body".to_owned(),
        crate::body_codec::encode(doc.key.kind, body),
    );
    Ok(item)
}

/// Decode a record (primary or list entry) read from the table.
pub(crate) fn decode_item(item: &HashMap<String, AttributeValue>) -> Result<Doc, String> {
    let s = |name: &str| -> Result<&String, String> {
        item.get(name)
            .ok_or_else(|| format!("missing attribute {name}"))?
            .as_s()
            .map_err(|_| format!("attribute {name} is not a string"))
    };
    let n = |name: &str| -> Result<Option<&String>, String> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(v) => v
                .as_n()
                .map(Some)
                .map_err(|_| format!("attribute {name} is not a number")),
        }
    };
    let kind = Kind::parse(s("kind")?).ok_or_else(|| "unknown kind".to_owned())?;
    let version = n("version")?
        .ok_or("missing attribute version")?
        .parse::<u64>()
        .map_err(|e| format!("version: {e}"))?;
    let expires_at = n("expires_at")?
        .map(|t| t.parse::<i64>().map_err(|e| format!("expires_at: {e}")))
        .transpose()?;
    let parent = match item.get("parent") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(v) => Some(
            v.as_s()
                .map_err(|_| "attribute parent is not a string")?
                .clone(),
        ),
    };
    let body = crate::body_codec::decode(item.get("body").ok_or("missing attribute body")?)?;
    Ok(Doc {
        key: DocKey::new(s("tenant")?.clone(), kind, s("id")?.clone()),
        version,
        parent,
        expires_at,
        body,
    })
}

/// The document of a primary record read from the table (`None` if the item
/// is not a well-formed record).
pub fn doc_from_item(item: &HashMap<String, AttributeValue>) -> Option<Doc> {
    decode_item(item).ok()
}

/// The document of a DynamoDB Streams record's `NewImage`, if it is a
/// document's primary record (`sk = "_"`); `None` for list entries, deletes
/// (empty images) and anything malformed.
///
/// `image` is anything that serializes to the DynamoDB JSON of an item
/// (`{"pk": {"S": "…"}, "version": {"N": "3"}, …}`): pass
/// `&record.change.new_image` of an `aws_lambda_events` DynamoDB event
/// (a `serde_dynamo::Item`) directly, or a `serde_json::Value`.
pub fn doc_from_stream_image<T: Serialize + ?Sized>(image: &T) -> Option<Doc> {
    let value = serde_json::to_value(image).ok()?;
    let obj = value.as_object()?;
    let s = |name: &str| obj.get(name)?.get("S")?.as_str();
    let n = |name: &str| obj.get(name)?.get("N")?.as_str();
    if s("sk")? != SK_PRIMARY {
        return None;
    }
    let key = DocKey::new(s("tenant")?, Kind::parse(s("kind")?)?, s("id")?);
    if s("pk")? != primary_pk(&key) {
        return None;
    }
    Some(Doc {
        version: n("version")?.parse().ok()?,
        parent: s("parent").map(str::to_owned),
        expires_at: match n("expires_at") {
            Some(t) => Some(t.parse().ok()?),
            None => None,
        },
        body: crate::body_codec::decode_image(obj.get("body")?)?,
        key,
    })
}
