//! The outbox's time index: every outbox row is findable by the time it was
//! written, without a `Scan`, so a sweeper can process rows the table's
//! stream path gave up on (after its retries, the stream's on-failure
//! destination only holds shard pointers that expire).
//!
//! # Layout
//!
//! The primary record of an outbox document carries two more attributes:
//! `sweep_pk = "outbox#{shard}"` (shard = a stable hash of the document id
//! mod [`SHARDS`]) and `sweep_sk` = the write time, RFC 3339 with
//! milliseconds (sorts as text). They are the keys of the sparse global
//! secondary index [`INDEX`] (`KEYS_ONLY`): only outbox rows carry them, the
//! row's delete removes its index entry, and the index stores no copy of the
//! body (DynamoDB bills every write by item size, also an index's). The
//! table's own keys are projected into every index entry, so the sort key
//! need not be unique and the row is read by its key after the query.
//!
//! Sharding spreads the index's writes over [`SHARDS`] partitions, so the
//! index never caps the table's outbox write rate (a partition takes
//! 1,000 writes/s).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableDescription,
};
use chrono::{DateTime, SecondsFormat, Utc};
use crm_core::ports::{Doc, DocKey, Kind, StoreError};

use crate::error::{AwsError, code_of, describe};
use tracing::info;

/// Name of the global secondary index of outbox rows by time.
pub const INDEX: &str = "outbox-by-time";
/// Partition key attribute of the index.
pub const SWEEP_PK: &str = "sweep_pk";
/// Sort key attribute of the index.
pub const SWEEP_SK: &str = "sweep_sk";
/// Number of index partitions (fixed: changing it strands rows under old
/// partition keys until they are swept by a sweeper that knows them).
pub const SHARDS: u32 = 8;

/// The index shard of an outbox document: FNV-1a 64 of its id, stable across
/// processes and releases (unlike std's hasher), mod [`SHARDS`].
pub fn shard_of(id: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    u32::try_from(h % u64::from(SHARDS)).expect("below SHARDS")
}

/// The index partition key of `shard`.
pub fn shard_key(shard: u32) -> String {
    format!("outbox#{shard}")
}

/// The index sort key of a row written at `at`.
pub fn time_key(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The index attributes of `doc`'s primary record written at `at`: the two
/// keys for an outbox document, nothing for any other kind.
pub fn index_attributes(doc: &Doc, at: DateTime<Utc>) -> Option<[(String, AttributeValue); 2]> {
    (doc.key.kind == Kind::Outbox).then(|| {
        [
            (
                SWEEP_PK.to_owned(),
                AttributeValue::S(shard_key(shard_of(&doc.key.id))),
            ),
            (SWEEP_SK.to_owned(), AttributeValue::S(time_key(at))),
        ]
    })
}

/// Where the next page of a shard's query starts (DynamoDB's
/// `LastEvaluatedKey`); `None` when the shard is exhausted.
pub type Cursor = Option<HashMap<String, AttributeValue>>;

/// One page of an index query.
#[derive(Debug, Clone)]
pub struct IndexPage {
    /// The rows' keys, oldest first.
    pub keys: Vec<DocKey>,
    /// Where the next page starts.
    pub next: Cursor,
}

/// Queries of the outbox's time index.
#[derive(Debug, Clone)]
pub struct OutboxIndex {
    client: Client,
    table: String,
}

impl OutboxIndex {
    /// The index of `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        OutboxIndex {
            client,
            table: table.into(),
        }
    }

    /// Up to `limit` rows of `shard` written before `before`, oldest first,
    /// starting at `start` (`None` = the beginning). The index is eventually
    /// consistent: a listed row may be gone already (read it to know).
    pub async fn older_than(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        start: Cursor,
        limit: i32,
    ) -> Result<IndexPage, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX)
            .key_condition_expression("#p = :p AND #s < :s")
            .expression_attribute_names("#p", SWEEP_PK)
            .expression_attribute_names("#s", SWEEP_SK)
            .expression_attribute_values(":p", AttributeValue::S(shard_key(shard)))
            .expression_attribute_values(":s", AttributeValue::S(time_key(before)))
            .limit(limit.max(1))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("Query {INDEX}: {}", describe(&e))))?;
        let keys = out
            .items()
            .iter()
            .filter_map(|item| item.get("pk")?.as_s().ok().and_then(|pk| doc_key_of(pk)))
            .collect();
        Ok(IndexPage {
            keys,
            next: out.last_evaluated_key.filter(|k| !k.is_empty()),
        })
    }
}

/// The index's definition for `CreateTable` / `UpdateTable`: keys
/// `sweep_pk`/`sweep_sk`, only the table's keys projected (no copy of the
/// body). On-demand tables need no throughput.
pub fn index_definition() -> Result<GlobalSecondaryIndex, aws_sdk_dynamodb::error::BuildError> {
    GlobalSecondaryIndex::builder()
        .index_name(INDEX)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(SWEEP_PK)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(SWEEP_SK)
                .key_type(KeyType::Range)
                .build()?,
        )
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
}

/// The attribute definitions of the index's keys (both strings).
pub fn index_attribute_definitions()
-> Result<[AttributeDefinition; 2], aws_sdk_dynamodb::error::BuildError> {
    let def = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    Ok([def(SWEEP_PK)?, def(SWEEP_SK)?])
}

/// Add the outbox time index to a table created without it (tables made
/// before the index existed), and wait until it is active: until then a
/// query of it fails, and the sweeper would see nothing.
pub async fn ensure_index(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    description: &TableDescription,
) -> Result<(), AwsError> {
    if index_status(description).is_none() {
        create_index(client, table).await?;
    }
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeTable", e))?;
        let active = out
            .table()
            .and_then(index_status)
            .is_some_and(|s| s == IndexStatus::Active);
        if active {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Err(AwsError::Timeout(format!(
        "index {INDEX} of {table} not active after 30 s"
    )))
}

/// The status of the index on the described table (`None`: no such index).
fn index_status(description: &TableDescription) -> Option<IndexStatus> {
    description
        .global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some(INDEX))
        .map(|i| i.index_status().cloned().unwrap_or(IndexStatus::Active))
}

/// `UpdateTable` creating the index.
async fn create_index(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), AwsError> {
    let config = |e: aws_sdk_dynamodb::error::BuildError| AwsError::Config(e.to_string());
    let index = index_definition().map_err(config)?;
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(index.index_name)
        .set_key_schema(Some(index.key_schema))
        .set_projection(index.projection)
        .build()
        .map_err(config)?;
    let [sweep_pk, sweep_sk] = index_attribute_definitions().map_err(config)?;
    let updated = client
        .update_table()
        .table_name(table)
        .attribute_definitions(sweep_pk)
        .attribute_definitions(sweep_sk)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        )
        .send()
        .await;
    match updated {
        Ok(_) => info!(table, index = INDEX, "creating the outbox time index"),
        // Being created by a concurrent caller.
        Err(e)
            if matches!(
                code_of(&e),
                Some("ResourceInUseException" | "ValidationException")
            ) => {}
        Err(e) => return Err(AwsError::sdk("UpdateTable", e)),
    }
    Ok(())
}

/// The document key of a primary record's partition key
/// `{tenant}#{kind}#{id}` (the tenant percent-escaped, see
/// [`crate::dynamo_item::primary_pk`]).
pub fn doc_key_of(pk: &str) -> Option<DocKey> {
    let (tenant, rest) = pk.split_once('#')?;
    let (kind, id) = rest.split_once('#')?;
    let tenant = tenant.replace("%23", "#").replace("%25", "%");
    Some(DocKey::new(tenant, Kind::parse(kind)?, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo_item::primary_pk;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn shards_are_stable_and_spread() {
        // Fixed values: a change of the hash would strand rows in old shards.
        assert_eq!(
            shard_of("acme|item-1|000000000002"),
            shard_of("acme|item-1|000000000002")
        );
        let mut seen = [0u32; SHARDS as usize];
        for n in 0..800 {
            seen[shard_of(&format!("acme|item-{n}|000000000001")) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 60), "{seen:?}");
    }

    #[test]
    fn only_outbox_rows_are_indexed_by_write_time() {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 8, 29, 4).unwrap();
        let mut doc = Doc {
            key: DocKey::new("_system", Kind::Outbox, "acme|item-1|000000000002"),
            version: 1,
            parent: None,
            expires_at: None,
            body: json!({}),
        };
        let [(pk_name, pk), (sk_name, sk)] = index_attributes(&doc, at).unwrap();
        assert_eq!((pk_name.as_str(), sk_name.as_str()), (SWEEP_PK, SWEEP_SK));
        assert_eq!(pk.as_s().unwrap(), &shard_key(shard_of(&doc.key.id)));
        assert_eq!(sk.as_s().unwrap(), "2026-12-02T08:29:04.000Z");
        doc.key.kind = Kind::Item;
        assert!(index_attributes(&doc, at).is_none());
    }

    #[test]
    fn keys_round_trip_through_the_partition_key() {
        for key in [
            DocKey::new("_system", Kind::Outbox, "acme|item-1|000000000002"),
            DocKey::new("t%#x", Kind::Outbox, "a#b|c"),
        ] {
            assert_eq!(doc_key_of(&primary_pk(&key)), Some(key));
        }
        assert_eq!(doc_key_of("no-separator"), None);
    }
}
