//! The typed record layer over the [`DocStore`](crate::ports::DocStore):
//! engine records to documents and back, the writes the engine makes, and
//! derived ids. A stored document that cannot be read as its record is a
//! [`EngineError::Corrupt`], not a transient store error.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{EngineError, Result};
use crate::model::TimelineEntry;
use crate::ports::{Cond, Doc, DocKey, Kind, Write};

pub(crate) fn doc<T: Serialize>(
    tenant: &str,
    kind: Kind,
    id: &str,
    version: u64,
    parent: Option<&str>,
    body: &T,
) -> Doc {
    Doc {
        key: DocKey::new(tenant, kind, id),
        version,
        parent: parent.map(str::to_string),
        expires_at: None,
        body: serde_json::to_value(body).expect("engine records serialize"),
    }
}

pub(crate) fn put(doc: Doc, cond: Cond) -> Write {
    Write::Put { doc, cond }
}

/// The condition of an optimistic write of a document read at `version`
/// (0 = it did not exist).
pub(crate) fn cond_for(version: u64) -> Cond {
    if version == 0 {
        Cond::Absent
    } else {
        Cond::Version(version)
    }
}

/// Stable short hash (FNV-1a 64) for derived ids.
pub(crate) fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Timeline ids sort chronologically.
pub(crate) fn timeline_id(at: DateTime<Utc>, suffix: &str) -> String {
    format!("{:013}-{suffix}", at.timestamp_millis().max(0))
}

pub(crate) fn timeline_write(tenant: &str, e: &TimelineEntry) -> Write {
    put(
        doc(tenant, Kind::Timeline, &e.id, 1, Some(&e.item_id), e),
        Cond::Any,
    )
}

pub(crate) fn decode<T: DeserializeOwned>(d: &Doc) -> Result<T> {
    // Deserialize from the borrowed value: no deep copy of the body.
    T::deserialize(&d.body).map_err(|e| EngineError::Corrupt(format!("{}: {e}", d.key)))
}
