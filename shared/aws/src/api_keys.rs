//! [`DynamoApiKeys`]: the API key store ([`ApiKeyStore`]) on a dedicated
//! DynamoDB table.
//!
//! One item per key, partition key `key_hash` (the SHA-256 of the key in hex):
//! the api function's lookup is one strongly consistent `GetItem` (a key
//! added a moment ago works at once; the in-process cache keeps the cost to
//! one read per key per cache TTL). `list` and `revoke` are operator commands
//! (the `crm-automation keys` CLI) and `Scan` the table: it holds one small
//! item per key, so even thousands of keys are one or two pages, and no
//! index has to be paid for on every write.
//!
//! Why a table of its own rather than the documents table: the api function's
//! role may then *only read* keys (`dynamodb:GetItem` on this table), while
//! it must write documents; key writes do not go through the documents
//! table's stream; and the table can be backed up or restricted on its own.
//! On-demand billing makes an idle table free.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, SseSpecification, TableStatus,
};
use chrono::{DateTime, Utc};
use crm_core::api_keys::{
    ApiKeyRecord, ApiKeyStore, KeyFilter, KeyHash, KeyStoreError, Role, sort_for_list,
};

use crate::error::{AwsError, code_of, describe};

/// Partition key of the keys table.
pub const KEY_ATTRIBUTE: &str = "key_hash";
/// Environment variable naming the keys table.
pub const KEYS_TABLE_VAR: &str = "CRM_KEYS_TABLE";
/// Keys table name on emulators when `CRM_KEYS_TABLE` is not set.
pub const DEFAULT_KEYS_TABLE: &str = "crm-api-keys";

/// API keys in a DynamoDB table; see the module documentation.
#[derive(Debug, Clone)]
pub struct DynamoApiKeys {
    client: Client,
    table: String,
}

impl DynamoApiKeys {
    /// The keys in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoApiKeys {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// A client from the standard AWS environment (`AWS_REGION`,
    /// `AWS_ENDPOINT_URL`, credentials chain), for the operator's CLI.
    pub async fn client_from_env() -> Client {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Client::new(&sdk)
    }

    /// Every item of the table (`Scan`, all pages), or only the one with
    /// key id `id`.
    async fn scan(&self, id: Option<&str>) -> Result<Vec<ApiKeyRecord>, KeyStoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut req = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if let Some(id) = id {
                req = req
                    .filter_expression("#id = :id")
                    .expression_attribute_names("#id", "id")
                    .expression_attribute_values(":id", s(id));
            }
            let page = req
                .send()
                .await
                .map_err(|e| KeyStoreError::Unavailable(format!("Scan: {}", describe(&e))))?;
            for item in page.items() {
                out.push(record_of(item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn item_of(r: &ApiKeyRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (KEY_ATTRIBUTE.to_string(), s(&r.hash.to_hex())),
        ("id".to_string(), s(&r.id)),
        ("tenant".to_string(), s(&r.tenant)),
        ("label".to_string(), s(&r.label)),
        ("created_at".to_string(), s(&rfc3339(r.created_at))),
        ("role".to_string(), s(r.role.as_str())),
    ]);
    if let Some(t) = r.revoked_at {
        item.insert("revoked_at".to_string(), s(&rfc3339(t)));
    }
    item
}

fn record_of(item: &HashMap<String, AttributeValue>) -> Result<ApiKeyRecord, KeyStoreError> {
    let bad = |what: &str| KeyStoreError::Unavailable(format!("malformed key item: {what}"));
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    let time = |name: &str| {
        text(name)
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.to_utc())
                    .map_err(|_| bad(name))
            })
            .transpose()
    };
    Ok(ApiKeyRecord {
        hash: text(KEY_ATTRIBUTE)
            .and_then(KeyHash::from_hex)
            .ok_or_else(|| bad(KEY_ATTRIBUTE))?,
        id: text("id").ok_or_else(|| bad("id"))?.to_string(),
        tenant: text("tenant").ok_or_else(|| bad("tenant"))?.to_string(),
        label: text("label").ok_or_else(|| bad("label"))?.to_string(),
        created_at: time("created_at")?.ok_or_else(|| bad("created_at"))?,
        revoked_at: time("revoked_at")?,
        // Keys stored before roles existed have none: admin keys.
        role: Role::from_stored(text("role")).ok_or_else(|| bad("role"))?,
    })
}

#[async_trait]
impl ApiKeyStore for DynamoApiKeys {
    async fn find(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, KeyStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&hash.to_hex()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| KeyStoreError::Unavailable(format!("GetItem: {}", describe(&e))))?;
        out.item.as_ref().map(record_of).transpose()
    }

    async fn add(&self, record: &ApiKeyRecord) -> Result<(), KeyStoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_of(record)))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", KEY_ATTRIBUTE)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ConditionalCheckFailedException") => {
                Err(KeyStoreError::Duplicate("hash"))
            }
            Err(e) => Err(KeyStoreError::Unavailable(format!(
                "PutItem: {}",
                describe(&e)
            ))),
        }
    }

    async fn list(&self, filter: &KeyFilter) -> Result<Vec<ApiKeyRecord>, KeyStoreError> {
        let mut out = self.scan(None).await?;
        out.retain(|r| filter.matches(r));
        sort_for_list(&mut out);
        Ok(out)
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<ApiKeyRecord, KeyStoreError> {
        let found = self.scan(Some(id)).await?;
        let Some(record) = found.into_iter().next() else {
            return Err(KeyStoreError::NotFound(id.to_string()));
        };
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&record.hash.to_hex()))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(#k)")
            .expression_attribute_names("#k", KEY_ATTRIBUTE)
            .expression_attribute_values(":at", s(&rfc3339(at)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(out) => record_of(&out.attributes.unwrap_or_default()),
            Err(e) if code_of(&e) == Some("ConditionalCheckFailedException") => {
                Err(KeyStoreError::NotFound(id.to_string()))
            }
            Err(e) => Err(KeyStoreError::Unavailable(format!(
                "UpdateItem: {}",
                describe(&e)
            ))),
        }
    }
}

/// Create the keys table if it does not exist (on-demand, `key_hash` string
/// key, server-side encryption) and wait until it is active. As in
/// `infra/template.yaml`; for LocalStack and tests.
pub async fn ensure_keys_table(client: &Client, table: &str) -> Result<(), AwsError> {
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e) if code_of(&e) == Some("ResourceNotFoundException") => false,
        Err(e) => return Err(AwsError::sdk("DescribeTable", e)),
    };
    if !exists {
        let config = |e: aws_sdk_dynamodb::error::BuildError| AwsError::Config(e.to_string());
        let created = client
            .create_table()
            .table_name(table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(config)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(config)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .send()
            .await;
        match created {
            Ok(_) => tracing::info!(table, "created the API keys table"),
            Err(e) if code_of(&e) == Some("ResourceInUseException") => {}
            Err(e) => return Err(AwsError::sdk("CreateTable", e)),
        }
    }
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeTable", e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(AwsError::Timeout(format!(
        "table {table} not active after 30 s"
    )))
}

/// The keys table named by `CRM_KEYS_TABLE` (via `get`); on an emulator
/// (`AWS_ENDPOINT_URL` set) it defaults to [`DEFAULT_KEYS_TABLE`].
pub fn keys_table_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<String, AwsError> {
    let get = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    get(KEYS_TABLE_VAR)
        .or_else(|| get("AWS_ENDPOINT_URL").map(|_| DEFAULT_KEYS_TABLE.to_string()))
        .ok_or_else(|| {
            AwsError::Config(format!(
                "{KEYS_TABLE_VAR} is not set (required unless AWS_ENDPOINT_URL points at an emulator)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let key = crm_core::api_keys::NewKey::generate("acme", "ci", Utc::now()).unwrap();
        let mut r = key.record;
        assert_eq!(record_of(&item_of(&r)).unwrap(), r);
        r.revoked_at = Some(Utc::now());
        assert_eq!(record_of(&item_of(&r)).unwrap(), r);
        r.role = Role::Member;
        assert_eq!(record_of(&item_of(&r)).unwrap(), r);
        let mut old = item_of(&r);
        old.remove("role");
        assert_eq!(record_of(&old).unwrap().role, Role::Admin, "no role: admin");
        let item = item_of(&r);
        assert!(!format!("{item:?}").contains(&key.secret));
    }

    #[test]
    fn the_table_comes_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            keys_table_from_lookup(env(&[("CRM_KEYS_TABLE", "t")])).unwrap(),
            "t"
        );
        assert_eq!(
            keys_table_from_lookup(env(&[("AWS_ENDPOINT_URL", "http://x")])).unwrap(),
            DEFAULT_KEYS_TABLE
        );
        assert!(keys_table_from_lookup(env(&[])).is_err());
    }
}
