//! What AWS bills for the requests the SDK clients send: DynamoDB request
//! units computed from the actual items by AWS's sizing rules, SQS requests
//! (64 KB chunks), EventBridge Scheduler invocations, and Lambda
//! GB-seconds, priced with the us-east-1 list prices of [`PRICES`].
//!
//! A [`Meter`] is fed by the request counter's SDK interceptor (see
//! [`crate::counter::RequestCounter::metering`]): it reads the JSON body of
//! each DynamoDB/SQS request before it is signed (asking DynamoDB for its
//! `ConsumedCapacity` too, for the cross-check) and the response after it is
//! read. Sizing rules
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>):
//! an item's size is the sum of its attribute names' and values' UTF-8
//! lengths; a number is 1 byte per two significant digits + 1; null/boolean
//! 1 byte; a list or map 3 bytes + 1 per element + its elements.
//!
//! Request units (<https://aws.amazon.com/dynamodb/pricing/on-demand/>):
//! - write: ⌈size / 1 KB⌉ per item written (the larger of the old and the new
//!   item for a put that replaces one; the deleted item for a delete), ×2 in
//!   `TransactWriteItems`, where a `ConditionCheck` bills as a write of the
//!   checked item; plus the same for the entry of every GSI the item is or
//!   was in (the outbox time index: keys + 100 bytes);
//! - read: ⌈size / 4 KB⌉ per item (`GetItem`, each item of `BatchGetItem`; a
//!   key that finds nothing still costs one unit), the items of a `Query`
//!   summed first; ×1 strongly consistent, ×0.5 eventually consistent.
//!
//! Old item sizes come from what this meter saw written or read before (the
//! scenarios write everything they later replace through metered clients).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::outbox_index::{SWEEP_PK, SWEEP_SK};

/// US East (N. Virginia) list prices, read on 2026-12-02 from
/// <https://aws.amazon.com/dynamodb/pricing/on-demand/> (after the
/// 2024-11-01 on-demand price cut), <https://aws.amazon.com/sqs/pricing/>,
/// <https://aws.amazon.com/lambda/pricing/> (x86) and
/// <https://aws.amazon.com/eventbridge/pricing/> (Scheduler). Free tiers are
/// not deducted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// USD per million DynamoDB on-demand write request units.
    pub per_million_wru: f64,
    /// USD per million DynamoDB on-demand read request units.
    pub per_million_rru: f64,
    /// USD per million SQS standard-queue requests (64 KB chunks).
    pub per_million_sqs: f64,
    /// USD per million EventBridge Scheduler invocations.
    pub per_million_schedule_invocations: f64,
    /// USD per million Lambda requests.
    pub per_million_lambda_requests: f64,
    /// USD per Lambda GB-second (x86).
    pub per_lambda_gb_second: f64,
}

/// The prices the cost report uses (see [`Prices`] for source and date).
pub const PRICES: Prices = Prices {
    per_million_wru: 0.625,
    per_million_rru: 0.125,
    per_million_sqs: 0.40,
    per_million_schedule_invocations: 1.00,
    per_million_lambda_requests: 0.20,
    per_lambda_gb_second: 0.000_016_666_7,
};

/// Memory of the api function (`infra/template.yaml`, `ApiFunction`).
pub const API_MEMORY_MB: u32 = 512;
/// Memory of the other functions (`infra/template.yaml`, `Globals`).
pub const FUNCTION_MEMORY_MB: u32 = 256;

/// Bytes per write request unit.
const WRITE_UNIT: u64 = 1024;
/// Bytes per read request unit.
const READ_UNIT: u64 = 4096;
/// Bytes per billed SQS request.
const SQS_CHUNK: u64 = 64 * 1024;
/// Per-entry overhead of a global secondary index entry.
const GSI_OVERHEAD: u64 = 100;

/// Size of a number attribute value: 1 byte per two significant digits + 1.
fn number_size(n: &str) -> u64 {
    let digits: String = n
        .trim_start_matches('-')
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len() as u64;
    significant.div_ceil(2) + 1
}

/// Size of one attribute value in DynamoDB JSON (`{"S": "…"}`), without its name.
pub fn value_size(v: &Value) -> u64 {
    let Some((ty, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match (ty.as_str(), inner) {
        ("S", Value::String(s)) => s.len() as u64,
        ("N", Value::String(n)) => number_size(n),
        // Base64 in JSON; the raw bytes count.
        ("B", Value::String(b)) => {
            let pad = b.bytes().rev().take_while(|c| *c == b'=').count() as u64;
            (b.len() as u64 / 4) * 3 - pad.min(2)
        }
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.len() as u64)
            .sum(),
        ("NS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(number_size).sum(),
        ("L", Value::Array(a)) => 3 + a.iter().map(|e| 1 + value_size(e)).sum::<u64>(),
        ("M", Value::Object(m)) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() as u64 + value_size(e))
                .sum::<u64>()
        }
        _ => 0,
    }
}

/// Size of an item in DynamoDB JSON: its attribute names and values.
pub fn item_size(item: &Value) -> u64 {
    item.as_object().map_or(0, |m| {
        m.iter().map(|(k, v)| k.len() as u64 + value_size(v)).sum()
    })
}

/// Size of the outbox time index's entry of `item`, if the item is in it
/// (`KEYS_ONLY`: the index keys and the table keys, + 100 bytes).
fn gsi_entry_size(item: &Value) -> Option<u64> {
    let o = item.as_object()?;
    o.get(SWEEP_PK)?;
    Some(
        [SWEEP_PK, SWEEP_SK, "pk", "sk"]
            .iter()
            .filter_map(|k| o.get(*k).map(|v| k.len() as u64 + value_size(v)))
            .sum::<u64>()
            + GSI_OVERHEAD,
    )
}

fn units(size: u64, unit: u64) -> u64 {
    size.div_ceil(unit).max(1)
}

/// What the meter knows of a stored item: its size and its index entry.
#[derive(Debug, Clone, Copy)]
struct Known {
    size: u64,
    gsi: Option<u64>,
}

/// Billed units of one DynamoDB request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamoCall {
    /// The operation (`PutItem`, `TransactWriteItems`, …).
    pub operation: String,
    /// Write request units, table and index.
    pub wru: f64,
    /// Read request units.
    pub rru: f64,
    /// The `ConsumedCapacity` the backend reported (table + indexes).
    pub reported: Option<f64>,
    /// Whether it is a transaction (the backend's report then is not checked).
    pub transactional: bool,
    /// The part of `rru` for reads that found nothing in a `BatchGetItem` or
    /// a `Query`: billed here at the minimum of one unit (half if eventually
    /// consistent) as AWS bills a `GetItem` that finds nothing; DynamoDB
    /// Local reports 0 for these (an upper bound here, then).
    pub empty_reads: f64,
    /// Items the request writes (table items, not index entries).
    pub items_written: usize,
}

impl DynamoCall {
    /// What DynamoDB Local reports for this call: the units less the
    /// minimum charged for reads that found nothing.
    pub fn comparable(&self) -> f64 {
        self.wru + self.rru - self.empty_reads
    }
}

/// Billed units of a scenario (or of any window of requests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// DynamoDB write request units.
    pub wru: f64,
    /// DynamoDB read request units.
    pub rru: f64,
    /// DynamoDB requests per operation.
    pub dynamodb_ops: BTreeMap<String, u64>,
    /// Billed SQS requests (64 KB chunks), empty receives excluded.
    pub sqs_requests: u64,
    /// Receives that found nothing (the pollers' idle cost, not per run).
    pub sqs_empty_receives: u64,
    /// EventBridge Scheduler invocations (a schedule firing).
    pub schedule_invocations: u64,
    /// Scheduler API requests (`CreateSchedule`, …): free.
    pub scheduler_api_requests: u64,
    /// Lambda invocations.
    pub lambda_requests: u64,
    /// Lambda GB-seconds (durations rounded up to 1 ms).
    pub lambda_gb_seconds: f64,
}

impl Usage {
    /// The cost of this usage at `prices`, in USD.
    pub fn usd(&self, p: &Prices) -> f64 {
        (self.wru * p.per_million_wru
            + self.rru * p.per_million_rru
            + self.sqs_requests as f64 * p.per_million_sqs
            + self.schedule_invocations as f64 * p.per_million_schedule_invocations
            + self.lambda_requests as f64 * p.per_million_lambda_requests)
            / 1e6
            + self.lambda_gb_seconds * p.per_lambda_gb_second
    }

    /// USD per million of this usage.
    pub fn usd_per_million(&self, p: &Prices) -> f64 {
        self.usd(p) * 1e6
    }

    /// Add one Lambda invocation of `duration` at `memory_mb`.
    pub fn add_lambda(&mut self, memory_mb: u32, duration: Duration) {
        let ms = duration.as_micros().div_ceil(1000) as f64;
        self.lambda_requests += 1;
        self.lambda_gb_seconds += f64::from(memory_mb) / 1024.0 * ms / 1000.0;
    }
}

impl Usage {
    /// The usage of a window: `self` (its end) minus `before` (its start).
    pub fn since(&self, before: &Usage) -> Usage {
        let mut ops = self.dynamodb_ops.clone();
        for (op, n) in &before.dynamodb_ops {
            if let Some(m) = ops.get_mut(op) {
                *m -= n;
            }
        }
        ops.retain(|_, n| *n > 0);
        Usage {
            wru: self.wru - before.wru,
            rru: self.rru - before.rru,
            dynamodb_ops: ops,
            sqs_requests: self.sqs_requests - before.sqs_requests,
            sqs_empty_receives: self.sqs_empty_receives - before.sqs_empty_receives,
            schedule_invocations: self.schedule_invocations - before.schedule_invocations,
            scheduler_api_requests: self.scheduler_api_requests - before.scheduler_api_requests,
            lambda_requests: self.lambda_requests - before.lambda_requests,
            lambda_gb_seconds: self.lambda_gb_seconds - before.lambda_gb_seconds,
        }
    }

    /// The same usage without Lambda time: what the request units alone
    /// cost (deterministic, unlike measured durations).
    pub fn without_lambda_time(&self) -> Usage {
        Usage {
            lambda_gb_seconds: 0.0,
            ..self.clone()
        }
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dynamodb {:.1} WRU {:.1} RRU {:?}; sqs {} requests (+{} empty receives); \
             scheduler {} invocations ({} free API requests); lambda {} requests {:.4} GB-s",
            self.wru,
            self.rru,
            self.dynamodb_ops,
            self.sqs_requests,
            self.sqs_empty_receives,
            self.schedule_invocations,
            self.scheduler_api_requests,
            self.lambda_requests,
            self.lambda_gb_seconds
        )
    }
}

#[derive(Debug, Default)]
struct State {
    usage: Usage,
    calls: Vec<DynamoCall>,
    known: HashMap<(String, String), Known>,
}

/// Accumulates the billed units of metered requests. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    state: Arc<Mutex<State>>,
}

/// What a DynamoDB request writes, read from its body before it is sent.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    operation: String,
    body: Value,
}

fn key_of(item: &Value) -> Option<(String, String)> {
    let s = |k: &str| item.get(k)?.get("S")?.as_str().map(str::to_owned);
    Some((s("pk")?, s("sk")?))
}

impl Meter {
    /// A meter at zero.
    pub fn new() -> Meter {
        Meter::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("meter lock")
    }

    /// The usage so far.
    pub fn usage(&self) -> Usage {
        self.lock().usage.clone()
    }

    /// The DynamoDB requests so far with their units.
    pub fn calls(&self) -> Vec<DynamoCall> {
        self.lock().calls.clone()
    }

    /// Count one EventBridge Scheduler invocation (a schedule firing: AWS
    /// sends its input to the target; the SQS send is metered by itself).
    pub fn record_schedule_invocation(&self) {
        self.lock().usage.schedule_invocations += 1;
    }

    /// Count one Lambda invocation of `duration` at `memory_mb`.
    pub fn record_lambda(&self, memory_mb: u32, duration: Duration) {
        self.lock().usage.add_lambda(memory_mb, duration);
    }

    /// Count a Scheduler API request (free).
    pub(crate) fn record_scheduler_api(&self) {
        self.lock().usage.scheduler_api_requests += 1;
    }

    /// Ask DynamoDB for its consumed capacity: the body with
    /// `ReturnConsumedCapacity = TOTAL`, or `None` to send it unchanged.
    pub(crate) fn dynamodb_request(
        operation: &str,
        body: &[u8],
    ) -> (Option<Vec<u8>>, PendingRequest) {
        let mut json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let pending = PendingRequest {
            operation: operation.to_owned(),
            body: json.clone(),
        };
        let rewritten = match json.as_object_mut() {
            Some(o) if !o.contains_key("ReturnConsumedCapacity") => {
                o.insert("ReturnConsumedCapacity".into(), Value::from("TOTAL"));
                serde_json::to_vec(&json).ok()
            }
            _ => None,
        };
        (rewritten, pending)
    }

    /// Bill a DynamoDB request whose successful response is `response`.
    pub(crate) fn dynamodb_response(&self, req: &PendingRequest, response: &[u8]) {
        let resp: Value = serde_json::from_slice(response).unwrap_or(Value::Null);
        let mut st = self.lock();
        let call = bill_dynamodb(&mut st.known, req, &resp);
        let Some(call) = call else { return };
        st.usage.wru += call.wru;
        st.usage.rru += call.rru;
        *st.usage
            .dynamodb_ops
            .entry(call.operation.clone())
            .or_default() += 1;
        st.calls.push(call);
    }

    /// Bill an SQS request of `request_len` bytes; `response` tells an empty
    /// receive apart.
    pub(crate) fn sqs(&self, operation: &str, request_len: usize, response: &[u8]) {
        let mut st = self.lock();
        if operation == "ReceiveMessage" {
            let resp: Value = serde_json::from_slice(response).unwrap_or(Value::Null);
            let got = resp
                .get("Messages")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if got == 0 {
                st.usage.sqs_empty_receives += 1;
                return;
            }
            // A receive bills by the payload it returns.
            st.usage.sqs_requests += units(response.len() as u64, SQS_CHUNK);
            return;
        }
        st.usage.sqs_requests += units(request_len as u64, SQS_CHUNK);
    }
}

fn consistency(body: &Value) -> f64 {
    if body.get("ConsistentRead").and_then(Value::as_bool) == Some(true) {
        1.0
    } else {
        0.5
    }
}

fn reported(resp: &Value) -> Option<f64> {
    let one = |c: &Value| c.get("CapacityUnits").and_then(Value::as_f64);
    match resp.get("ConsumedCapacity")? {
        Value::Array(a) => Some(a.iter().filter_map(one).sum()),
        c => one(c),
    }
}

/// Write units of replacing `old` by `new` (`None` = absent) at `factor`.
fn write_units(old: Option<Known>, new: Option<Known>, factor: f64) -> f64 {
    let size = old.map_or(0, |k| k.size).max(new.map_or(0, |k| k.size));
    let table = units(size, WRITE_UNIT) as f64;
    let index = match (old.and_then(|k| k.gsi), new.and_then(|k| k.gsi)) {
        (None, None) => 0,
        (Some(a), None) | (None, Some(a)) => units(a, WRITE_UNIT),
        // Same key (the row is written once): one index write.
        (Some(a), Some(b)) => units(a.max(b), WRITE_UNIT),
    } as f64;
    (table + index) * factor
}

fn known(item: &Value) -> Known {
    Known {
        size: item_size(item),
        gsi: gsi_entry_size(item),
    }
}

fn bill_dynamodb(
    store: &mut HashMap<(String, String), Known>,
    req: &PendingRequest,
    resp: &Value,
) -> Option<DynamoCall> {
    let body = &req.body;
    let mut call = DynamoCall {
        operation: req.operation.clone(),
        reported: reported(resp),
        ..DynamoCall::default()
    };
    let read = |store: &mut HashMap<_, _>, item: &Value| {
        if let Some(k) = key_of(item) {
            store.insert(k, known(item));
        }
        item_size(item)
    };
    match req.operation.as_str() {
        "PutItem" => {
            let item = body.get("Item")?;
            let k = key_of(item)?;
            let new = known(item);
            call.wru = write_units(store.get(&k).copied(), Some(new), 1.0);
            store.insert(k, new);
        }
        "DeleteItem" | "UpdateItem" => {
            let k = key_of(body.get("Key")?)?;
            let old = store.get(&k).copied();
            call.wru = write_units(old, None, 1.0);
            if req.operation == "DeleteItem" {
                store.remove(&k);
            }
        }
        "TransactWriteItems" => {
            call.transactional = true;
            let items = body.get("TransactItems")?.as_array()?;
            call.items_written = items.len();
            for w in items {
                if let Some(put) = w.get("Put") {
                    let item = put.get("Item")?;
                    let k = key_of(item)?;
                    let new = known(item);
                    call.wru += write_units(store.get(&k).copied(), Some(new), 2.0);
                    store.insert(k, new);
                } else if let Some(d) = w.get("Delete") {
                    let k = key_of(d.get("Key")?)?;
                    call.wru += write_units(store.remove(&k), None, 2.0);
                } else if let Some(c) = w.get("ConditionCheck").or_else(|| w.get("Update")) {
                    let k = key_of(c.get("Key")?)?;
                    let old = store.get(&k).copied();
                    call.wru += units(old.map_or(0, |o| o.size), WRITE_UNIT) as f64 * 2.0;
                }
            }
        }
        "GetItem" => {
            let size = resp.get("Item").map_or(0, |i| read(store, i));
            call.rru = units(size, READ_UNIT) as f64 * consistency(body);
        }
        "BatchGetItem" => {
            for (table, ka) in body.get("RequestItems")?.as_object()? {
                let asked = ka.get("Keys").and_then(Value::as_array).map_or(0, Vec::len);
                let items = resp
                    .get("Responses")
                    .and_then(|r| r.get(table))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let factor = consistency(ka);
                let found: f64 = items
                    .iter()
                    .map(|i| units(read(store, i), READ_UNIT) as f64)
                    .sum();
                let missing = asked.saturating_sub(items.len()) as f64;
                call.rru += (found + missing) * factor;
                call.empty_reads += missing * factor;
            }
        }
        "Query" | "Scan" => {
            let items = resp.get("Items").and_then(Value::as_array)?;
            let size: u64 = items.iter().map(|i| read(store, i)).sum();
            call.rru = units(size, READ_UNIT) as f64 * consistency(body);
            if items.is_empty() {
                call.empty_reads = call.rru;
            }
        }
        // Control plane (CreateTable, DescribeTable, …): not billed per request.
        _ => return None,
    }
    Some(call)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_follow_the_documented_rules() {
        // name + UTF-8 bytes
        assert_eq!(item_size(&json!({"pk": {"S": "abc"}})), 5);
        // 27 → 2 significant digits → 1 + 1 byte
        assert_eq!(item_size(&json!({"n": {"N": "27"}})), 3);
        assert_eq!(value_size(&json!({"N": "1000"})), 2);
        assert_eq!(value_size(&json!({"N": "123.45"})), 4);
        assert_eq!(value_size(&json!({"BOOL": true})), 1);
        // binary: the bytes the base64 text stands for (padding excluded)
        assert_eq!(value_size(&json!({"B": "AQI="})), 2);
        assert_eq!(value_size(&json!({"B": "AQ=="})), 1);
        assert_eq!(value_size(&json!({"B": "AQID"})), 3);
        // map: 3 + per element (1 + name + value)
        assert_eq!(value_size(&json!({"M": {"a": {"S": "xy"}}})), 3 + 1 + 1 + 2);
        assert_eq!(
            value_size(&json!({"L": [{"S": "x"}, {"N": "5"}]})),
            3 + 2 + 3
        );
    }

    fn pending(op: &str, body: Value) -> PendingRequest {
        PendingRequest {
            operation: op.into(),
            body,
        }
    }

    #[test]
    fn transactions_double_and_replacements_bill_the_larger_item() {
        let mut store = HashMap::new();
        let big = "x".repeat(1500);
        let item = json!({"pk": {"S": "a"}, "sk": {"S": "_"}, "body": {"S": big}});
        let put = pending("PutItem", json!({"Item": item}));
        assert_eq!(
            bill_dynamodb(&mut store, &put, &json!({})).unwrap().wru,
            2.0
        );
        // A small item replacing the big one still bills the big one.
        let small = json!({"pk": {"S": "a"}, "sk": {"S": "_"}});
        let tx = pending(
            "TransactWriteItems",
            json!({"TransactItems": [{"Put": {"Item": small}},
                {"ConditionCheck": {"Key": {"pk": {"S": "a"}, "sk": {"S": "_"}}}}]}),
        );
        // put: ⌈1.5 KB⌉ × 2 = 4; check of the now small item: 1 × 2 = 2
        assert_eq!(bill_dynamodb(&mut store, &tx, &json!({})).unwrap().wru, 6.0);
        // An outbox row bills its index entry too.
        let row =
            json!({"pk": {"S": "o"}, "sk": {"S": "_"}, SWEEP_PK: {"S": "3"}, SWEEP_SK: {"S": "t"}});
        let put = pending("PutItem", json!({"Item": row}));
        assert_eq!(
            bill_dynamodb(&mut store, &put, &json!({})).unwrap().wru,
            2.0
        );
        let del = pending(
            "DeleteItem",
            json!({"Key": {"pk": {"S": "o"}, "sk": {"S": "_"}}}),
        );
        assert_eq!(
            bill_dynamodb(&mut store, &del, &json!({})).unwrap().wru,
            2.0
        );
    }

    #[test]
    fn reads_round_per_item_or_per_query() {
        let mut store = HashMap::new();
        let it =
            |pk: &str| json!({"pk": {"S": pk}, "sk": {"S": "_"}, "b": {"S": "x".repeat(3000)}});
        let q = pending("Query", json!({"ConsistentRead": true}));
        let r = bill_dynamodb(&mut store, &q, &json!({"Items": [it("a"), it("b")]})).unwrap();
        assert_eq!(r.rru, 2.0); // ~6 KB summed → 2
        let b = pending(
            "BatchGetItem",
            json!({"RequestItems": {"t": {"Keys": [{}, {}, {}], "ConsistentRead": true}}}),
        );
        let r = bill_dynamodb(
            &mut store,
            &b,
            &json!({"Responses": {"t": [it("a"), it("b")]}}),
        )
        .unwrap();
        assert_eq!(r.rru, 3.0); // two found (1 each) + one missing
        let g = pending("GetItem", json!({}));
        assert_eq!(bill_dynamodb(&mut store, &g, &json!({})).unwrap().rru, 0.5);
    }

    #[test]
    fn lambda_and_prices_add_up() {
        let mut u = Usage {
            wru: 1.0,
            rru: 2.0,
            sqs_requests: 1,
            ..Usage::default()
        };
        u.add_lambda(1024, Duration::from_millis(1000));
        let expected = 0.625 + 0.25 + 0.40 + 0.20 + 16.6667;
        assert!((u.usd_per_million(&PRICES) - expected).abs() < 1e-6);
    }
}
