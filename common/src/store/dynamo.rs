//! The DynamoDB implementation of the store traits: the client, the
//! table, and the reads every operation shares. Each operation family
//! implements its trait in a file of its own.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};

use super::item::*;
use super::schema::*;
use super::transact::{ATTEMPTS, Attempts, Cancelled, Key, Transaction, unavailable};
use super::{StoreError, StoreResult};

/// Log rows one Query of one log shard reads: eight shards of a day side
/// by side stay a few megabytes in memory.
const LOG_PAGE_ROWS: i32 = 1_000;
/// Keys one `BatchGetItem` may ask for.
const BATCH_GET_KEYS: usize = 100;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    log_page_rows: i32,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            log_page_rows: LOG_PAGE_ROWS,
        }
    }

    /// Reads the redemption log `rows` to a Query (tests make it small, so
    /// a few rows take several pages).
    pub fn with_log_page_rows(mut self, rows: i32) -> DynamoStore {
        self.log_page_rows = rows.max(1);
        self
    }

    pub(super) fn log_page_rows(&self) -> i32 {
        self.log_page_rows
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// A transaction on this store's table.
    pub(super) fn transaction(&self) -> Transaction {
        Transaction::new(&self.table)
    }

    /// Sends `transaction`; see `Transaction::commit`.
    pub(super) async fn transact(
        &self,
        transaction: Transaction,
        token: Option<&str>,
    ) -> StoreResult<Option<Cancelled>> {
        transaction.commit(&self.client, token).await
    }

    pub(super) async fn get(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(output.item)
    }

    /// Every item of one GSI1 partition, optionally from one sort key on.
    pub(super) async fn query_gsi1(&self, pk: String, sk: Option<&str>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .expression_attribute_values(":pk", s(&pk))
                .set_exclusive_start_key(start);
            query = match sk {
                Some(sk) => query
                    .key_condition_expression("GSI1PK = :pk AND GSI1SK = :sk")
                    .expression_attribute_values(":sk", s(sk)),
                None => query.key_condition_expression("GSI1PK = :pk"),
            };
            let output = query.send().await.map_err(unavailable)?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Up to `limit` items of a GSI1 partition after `start`, and whether
    /// more follow: one extra item is read to know that for certain.
    pub(super) async fn gsi1_page(
        &self,
        pk: String,
        limit: u32,
        start: Option<Item>,
        newest_first: bool,
    ) -> StoreResult<(Vec<Item>, bool)> {
        self.index_page((GSI1, GSI1PK), pk, limit, start, newest_first)
            .await
    }

    /// `gsi1_page` of any index, named with its partition key attribute.
    pub(super) async fn index_page(
        &self,
        (index, pk_attribute): (&str, &str),
        pk: String,
        limit: u32,
        start: Option<Item>,
        newest_first: bool,
    ) -> StoreResult<(Vec<Item>, bool)> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attribute)
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(!newest_first)
            .limit(limit as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(unavailable)?;
        // A query that stopped at DynamoDB's 1 MB read has more too.
        let stopped_early = output.last_evaluated_key.is_some();
        let mut items = output.items.unwrap_or_default();
        let more = items.len() > limit as usize || stopped_early;
        items.truncate(limit as usize);
        Ok((items, more))
    }

    /// The items at `keys` that exist, by partition key (every key must
    /// have its own), read strongly consistent, 100 to a `BatchGetItem`.
    pub(super) async fn get_many(&self, keys: Vec<Key>) -> StoreResult<HashMap<String, Item>> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_KEYS) {
            let mut pending: Option<Vec<Item>> = Some(
                chunk
                    .iter()
                    .map(|(pk, sk)| Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))]))
                    .collect(),
            );
            let mut attempts = Attempts::new(ATTEMPTS);
            while attempts.another() {
                let Some(keys) = pending.take().filter(|k| !k.is_empty()) else {
                    break;
                };
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(unavailable)?;
                let items = output
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                for item in items {
                    if let Some(pk) = item.get(PK).and_then(|v| v.as_s().ok()) {
                        found.insert(pk.clone(), item);
                    }
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys);
                if pending.as_ref().is_some_and(|k| !k.is_empty()) {
                    attempts.back_off().await;
                }
            }
            if pending.is_some_and(|k| !k.is_empty()) {
                return Err(StoreError::Unavailable(
                    "DynamoDB kept reads unprocessed".into(),
                ));
            }
        }
        Ok(found)
    }

    /// Deletes items by key, 25 to a batch, retrying what DynamoDB leaves
    /// unprocessed; fails (with some deleted) if it stays unprocessed.
    pub(super) async fn delete_keys(&self, keys: Vec<(String, String)>) -> StoreResult<()> {
        let requests = keys
            .iter()
            .map(|(pk, sk)| {
                let delete = DeleteRequest::builder()
                    .key(PK, s(pk))
                    .key(SK, s(sk))
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(WriteRequest::builder().delete_request(delete).build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.write_batches(requests, "deletes").await
    }

    /// Puts items, 25 to a batch, as `delete_keys` deletes them.
    pub(super) async fn put_items(&self, items: Vec<Item>) -> StoreResult<()> {
        let requests = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.write_batches(requests, "puts").await
    }

    /// `BatchWriteItem`s of 25 requests, each retried while DynamoDB leaves
    /// some unprocessed; `what` names them in the error if that persists.
    async fn write_batches(&self, requests: Vec<WriteRequest>, what: &str) -> StoreResult<()> {
        for chunk in requests.chunks(25) {
            let mut requests = chunk.to_vec();
            let mut attempts = Attempts::new(ATTEMPTS);
            while !requests.is_empty() {
                if !attempts.another() {
                    return Err(StoreError::Unavailable(format!(
                        "DynamoDB kept {what} unprocessed"
                    )));
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(unavailable)?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    attempts.back_off().await;
                }
            }
        }
        Ok(())
    }
}
