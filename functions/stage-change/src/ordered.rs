//! Concurrent processing of outbox rows that keeps each item's own rows in
//! order: rows are grouped by the item they concern, groups run
//! concurrently (bounded), the rows of a group one after another. A failed
//! row stops its group (its later rows wait for the retry, so an item's
//! changes are never applied out of order by one invocation); the other
//! groups go on. Near the Lambda deadline no new row is started.

use std::time::SystemTime;

use crm_aws::lambda::near;
use crm_core::Engine;
use crm_core::ports::Doc;
use futures::{StreamExt, stream};
use serde_json::Value;
use tracing::{error, warn};

/// Most groups (items) processed at once by one invocation. A row is ~7
/// sequential round trips of a few milliseconds each (reads, a transaction,
/// the queue send and schedule creations), so the function mostly waits on
/// the network: 16 rows in flight turn that wait into throughput (~230 rows/s
/// per invocation). The account-wide bound is EventBridge Scheduler's
/// `CreateSchedule` rate (see `infra/README.md`); a throttled call is retried
/// by the SDK, then fails its row, which is retried with the batch.
pub const GROUP_CONCURRENCY: usize = 16;

/// What happened to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Processed (and its outbox row deleted).
    Done,
    /// Processing failed; it is left for a retry.
    Failed,
    /// Not started: an earlier row of its item failed, or the deadline was
    /// near. Left for a retry.
    NotStarted,
}

/// One row to process, with a name for the logs.
#[derive(Debug, Clone)]
pub struct Work {
    /// Names the row in logs (a sequence number, a key).
    pub name: String,
    /// The outbox row.
    pub doc: Doc,
}

/// The item an outbox row concerns (`{tenant}|{item id}`), read from the
/// row's record without decoding it; rows concerning no item (outbound
/// deliveries) are their own group.
pub fn order_key(doc: &Doc) -> String {
    let record = doc.body.get("record");
    let field = |name: &str| record.and_then(|r| r.get(name)).and_then(Value::as_str);
    match (field("tenant"), field("item_id")) {
        (Some(tenant), Some(item)) => format!("{tenant}|{item}"),
        _ => doc.key.id.clone(),
    }
}

/// Process `works` with [`Engine::process_outbox`]: grouped by
/// [`order_key`], up to `concurrency` groups at once, each group in the
/// given order. Returns one outcome per work, in the given order.
pub async fn process_ordered(
    engine: &Engine,
    works: &[Work],
    concurrency: usize,
    deadline: Option<SystemTime>,
) -> Vec<Outcome> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, w) in works.iter().enumerate() {
        let key = order_key(&w.doc);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    // The group futures are made before they are streamed (no closure
    // inside the stream), so the future stays `Send`.
    let runs: Vec<_> = groups
        .into_iter()
        .map(|(_, members)| process_group(engine, works, members, deadline))
        .collect();
    let results: Vec<Vec<(usize, Outcome)>> = stream::iter(runs)
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut outcomes = vec![Outcome::NotStarted; works.len()];
    for (i, outcome) in results.into_iter().flatten() {
        outcomes[i] = outcome;
    }
    outcomes
}

/// The rows of one group in order, stopping at the first failure or when the
/// deadline is near.
async fn process_group(
    engine: &Engine,
    works: &[Work],
    members: Vec<usize>,
    deadline: Option<SystemTime>,
) -> Vec<(usize, Outcome)> {
    let mut out = Vec::with_capacity(members.len());
    let mut stopped = false;
    for i in members {
        if stopped || near(deadline) {
            out.push((i, Outcome::NotStarted));
            continue;
        }
        let w = &works[i];
        match engine.process_outbox(w.doc.clone()).await {
            Ok(()) => out.push((i, Outcome::Done)),
            Err(e) => {
                error!(
                    row = %w.name,
                    outbox = %w.doc.key,
                    error = %e,
                    "outbox row failed; its item's later rows wait for the retry"
                );
                out.push((i, Outcome::Failed));
                stopped = true;
            }
        }
    }
    let left = out
        .iter()
        .filter(|(_, o)| *o == Outcome::NotStarted)
        .count();
    if left > 0 && !stopped {
        warn!(left, "Lambda deadline near: rows left for a retry");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::ports::{DocKey, Kind, SYSTEM_TENANT};
    use serde_json::json;

    fn doc(id: &str, body: Value) -> Doc {
        Doc {
            key: DocKey::new(SYSTEM_TENANT, Kind::Outbox, id),
            version: 1,
            parent: None,
            expires_at: None,
            body,
        }
    }

    #[test]
    fn rows_are_grouped_by_the_item_they_concern() {
        let change = doc(
            "acme|item-1|000000000002",
            json!({"type": "item_changed", "record": {"tenant": "acme", "item_id": "item-1"}}),
        );
        let ready = doc(
            "acme|ready|item-1:2:r1",
            json!({"type": "run_ready", "record": {"tenant": "acme", "item_id": "item-1"}}),
        );
        let other_tenant = doc(
            "beta|item-1|000000000002",
            json!({"type": "item_changed", "record": {"tenant": "beta", "item_id": "item-1"}}),
        );
        let deliver = doc(
            "acme|deliver|m-1",
            json!({"type": "deliver", "record": {"tenant": "acme", "outbound_id": "m-1"}}),
        );
        assert_eq!(order_key(&change), order_key(&ready));
        assert_ne!(order_key(&change), order_key(&other_tenant));
        assert_eq!(order_key(&deliver), "acme|deliver|m-1");
    }
}
