//! [`ComposedWrites`]: the writes of several runs, decided one after the
//! other, as ONE transaction with the same outcome (issue #11, visit jobs).
//!
//! Run 2 was decided against the state run 1's writes leave, so its
//! conditions are about that state. Composed against the real store:
//!
//! - a key written twice keeps the LAST write with the FIRST write's
//!   condition (`Version(v)` then `Version(v+1)` → the last document,
//!   `Version(v)`; `Absent` then `Version(1)` → the last document,
//!   `Absent`);
//! - a condition check of a key an earlier run wrote is implied by that
//!   write and dropped; two checks of one key are one;
//! - a later condition that contradicts what the earlier write leaves (a
//!   put "must not exist" after a put) cannot hold: not composable;
//! - what cannot be expressed as one write exactly (a delete after a put —
//!   of a document that was absent it would be no write at all, and the
//!   stored document's parent is not known — or a put after a delete) is
//!   not composable either.
//!
//! "Not composable" leaves the composition as it was: the caller commits
//! what is composed and runs the rest one by one.

use std::collections::HashMap;

use crate::ports::{Cond, DocKey, Write};

/// The writes composed so far, each key once, in first-write order.
#[derive(Debug, Default, Clone)]
pub(crate) struct ComposedWrites {
    writes: Vec<Write>,
    at: HashMap<DocKey, usize>,
}

/// These writes cannot join the composition exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the writes of {0} cannot be composed with the earlier runs' writes")]
pub(crate) struct NotComposable(pub DocKey);

/// What the state after `first` requires of a later condition, merged with
/// the condition that state was reached under; `None`: contradictory.
fn merge(earlier: Cond, later: Cond) -> Option<Cond> {
    match (earlier, later) {
        (c, Cond::Any) | (Cond::Any, c) => Some(c),
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

/// `second` after `first` on one key, as one write; `None` if not exact.
fn compose(first: &Write, second: &Write) -> Option<Write> {
    let cond_of = |w: &Write| match w {
        Write::Put { cond, .. } | Write::Delete { cond, .. } | Write::Check { cond, .. } => *cond,
    };
    let later = cond_of(second);
    match first {
        // The key now holds `doc`, at its version.
        Write::Put { doc, cond } => {
            if !matches!(later, Cond::Any) && later != Cond::Version(doc.version) {
                return None;
            }
            match second {
                Write::Put { doc: last, .. } => Some(Write::Put {
                    doc: last.clone(),
                    cond: *cond,
                }),
                Write::Check { .. } => Some(first.clone()),
                Write::Delete { .. } => None,
            }
        }
        // The key is now absent.
        Write::Delete { .. } => {
            if !matches!(later, Cond::Any | Cond::Absent) {
                return None;
            }
            match second {
                Write::Check { .. } | Write::Delete { .. } => Some(first.clone()),
                Write::Put { .. } => None,
            }
        }
        // The key is as it was, and `cond` holds of it.
        Write::Check { cond, .. } => {
            let cond = merge(*cond, later)?;
            Some(match second {
                Write::Put { doc, .. } => Write::Put {
                    doc: doc.clone(),
                    cond,
                },
                Write::Delete { key, parent, .. } => Write::Delete {
                    key: key.clone(),
                    parent: parent.clone(),
                    cond,
                },
                Write::Check { key, .. } => Write::Check {
                    key: key.clone(),
                    cond,
                },
            })
        }
    }
}

impl ComposedWrites {
    /// Nothing composed yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Compose the writes of the next run (one transaction's worth: each key
    /// once) after those so far. On `Err` nothing changes.
    pub(crate) fn add(&mut self, next: &[Write]) -> Result<(), NotComposable> {
        let mut out = self.clone();
        for w in next {
            match out.at.get(w.key()) {
                Some(&i) => {
                    out.writes[i] =
                        compose(&out.writes[i], w).ok_or_else(|| NotComposable(w.key().clone()))?;
                }
                None => {
                    out.at.insert(w.key().clone(), out.writes.len());
                    out.writes.push(w.clone());
                }
            }
        }
        *self = out;
        Ok(())
    }

    /// The composed writes.
    pub(crate) fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// Nothing composed.
    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The composed writes, taken.
    pub(crate) fn into_writes(self) -> Vec<Write> {
        self.writes
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ports::{Doc, Kind};
    use crate::store::put;

    fn doc(id: &str, version: u64) -> Doc {
        Doc {
            key: DocKey::new("t", Kind::Counter, id),
            version,
            parent: None,
            expires_at: None,
            body: json!({ "n": version }),
        }
    }

    fn check(id: &str, cond: Cond) -> Write {
        Write::Check {
            key: DocKey::new("t", Kind::Counter, id),
            cond,
        }
    }

    fn delete(id: &str, cond: Cond) -> Write {
        Write::Delete {
            key: DocKey::new("t", Kind::Counter, id),
            parent: None,
            cond,
        }
    }

    #[test]
    fn a_key_written_twice_keeps_the_last_document_under_the_first_condition() {
        let mut c = ComposedWrites::new();
        c.add(&[
            put(doc("a", 4), Cond::Version(3)),
            put(doc("n", 1), Cond::Absent),
        ])
        .unwrap();
        c.add(&[
            put(doc("a", 5), Cond::Version(4)),
            put(doc("n", 2), Cond::Version(1)),
        ])
        .unwrap();
        c.add(&[put(doc("a", 6), Cond::Any)]).unwrap();
        assert_eq!(
            c.writes(),
            &[
                put(doc("a", 6), Cond::Version(3)),
                put(doc("n", 2), Cond::Absent)
            ]
        );
    }

    #[test]
    fn a_check_of_a_key_written_before_is_implied_and_two_checks_are_one() {
        let mut c = ComposedWrites::new();
        c.add(&[
            check("item", Cond::Version(7)),
            put(doc("a", 2), Cond::Version(1)),
        ])
        .unwrap();
        c.add(&[
            check("item", Cond::Version(7)),
            check("a", Cond::Version(2)),
        ])
        .unwrap();
        // A later put of a checked key carries the check's condition.
        c.add(&[put(doc("item", 8), Cond::Version(7))]).unwrap();
        assert_eq!(
            c.writes(),
            &[
                put(doc("item", 8), Cond::Version(7)),
                put(doc("a", 2), Cond::Version(1))
            ]
        );
        let mut d = ComposedWrites::new();
        d.add(&[delete("gone", Cond::Version(3))]).unwrap();
        d.add(&[check("gone", Cond::Absent)]).unwrap();
        assert_eq!(d.writes(), &[delete("gone", Cond::Version(3))]);
    }

    #[test]
    fn what_cannot_be_one_write_exactly_is_refused_and_changes_nothing() {
        let mut c = ComposedWrites::new();
        c.add(&[
            put(doc("a", 1), Cond::Absent),
            check("item", Cond::Version(7)),
        ])
        .unwrap();
        let before = c.writes().to_vec();
        // A condition the earlier write leaves false.
        for w in [
            put(doc("a", 9), Cond::Version(5)),
            put(doc("a", 9), Cond::Absent),
            check("item", Cond::Version(8)),
            // Put then delete of a key that was absent: no write at all.
            delete("a", Cond::Version(1)),
        ] {
            let key = w.key().clone();
            assert_eq!(
                c.add(&[put(doc("b", 1), Cond::Absent), w]),
                Err(NotComposable(key))
            );
            assert_eq!(c.writes(), before.as_slice(), "unchanged");
        }
        let mut d = ComposedWrites::new();
        d.add(&[delete("a", Cond::Any)]).unwrap();
        assert!(d.add(&[put(doc("a", 1), Cond::Absent)]).is_err());
    }
}
