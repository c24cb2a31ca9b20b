//! Rate-limit buckets in DynamoDB: each GCRA step is one conditional
//! `UpdateItem` (see `crate::limiter` for the algorithm).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::StoreResult;
use super::dynamo::{DynamoStore, is_condition_failure, unavailable};
use super::item::{Item, n, s};
use super::schema::{PK, SK};
use crate::limiter::{Attempt, BucketState, BucketStore, Form, Guard, Rule};

pub const BUCKET_SK: &str = "BUCKET";
/// Idle buckets are removed by DynamoDB's TTL a day after they would be full.
const TTL_MARGIN_SECS: i64 = 86_400;

fn ttl(until_us: i64) -> i64 {
    until_us / 1_000_000 + TTL_MARGIN_SECS
}

fn client_block(client: &str) -> String {
    format!("blocked:{client}")
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

impl BucketStore for DynamoStore {
    async fn attempt(
        &self,
        key: &str,
        form: Form,
        rule: Rule,
        now: i64,
        guard: Guard<'_>,
    ) -> StoreResult<Attempt> {
        let mut values = Item::from([
            (":now".to_owned(), n(now)),
            (
                ":ttl".to_owned(),
                n(ttl(now + i64::from(rule.burst) * rule.interval_us)),
            ),
        ]);
        let mut names = HashMap::new();
        let (update, mut condition) = match form {
            Form::Idle => {
                values.insert(":new".into(), n(now + rule.interval_us));
                (
                    "SET tat = :new, expires_ttl = :ttl",
                    "(attribute_not_exists(tat) OR tat <= :now)".to_owned(),
                )
            }
            Form::Busy => {
                values.insert(":t".into(), n(rule.interval_us));
                values.insert(
                    ":limit".into(),
                    n(now + (i64::from(rule.burst) - 1) * rule.interval_us),
                );
                (
                    "SET tat = tat + :t, expires_ttl = :ttl",
                    "(tat > :now AND tat <= :limit)".to_owned(),
                )
            }
        };
        let client = match guard {
            Guard::None => None,
            Guard::NotBlocked { client } => {
                condition.push_str(
                    " AND (attribute_not_exists(blocked_until) OR blocked_until <= :now)",
                );
                if let Some(client) = client {
                    names.insert("#client_block".to_owned(), client_block(client));
                    condition.push_str(
                        " AND (attribute_not_exists(#client_block) OR #client_block <= :now)",
                    );
                }
                client
            }
        };
        // Boxed: the SDK's future is several kilobytes, and every future
        // awaiting this one would otherwise hold (and move) a copy of it.
        let send = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(key))
            .key(SK, s(BUCKET_SK))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send();
        let result = Box::pin(send).await;
        match result {
            Ok(output) => {
                let tat = output.attributes.as_ref().and_then(|a| number(a, "tat"));
                tat.map(Attempt::Taken).ok_or_else(|| {
                    super::StoreError::Unavailable("bucket update returned no tat".into())
                })
            }
            Err(e) if is_condition_failure(&e) => {
                let old = e.as_service_error().and_then(|e| match e {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                });
                let old = old.unwrap_or_default();
                let blocked = [
                    number(&old, "blocked_until"),
                    client.and_then(|c| number(&old, &client_block(c))),
                ];
                Ok(Attempt::Refused(BucketState {
                    tat: number(&old, "tat"),
                    blocked_until: blocked.into_iter().flatten().max(),
                }))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn block(&self, key: &str, client: Option<&str>, until: i64) -> StoreResult<()> {
        let attribute = client.map_or_else(|| "blocked_until".to_owned(), client_block);
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(key))
            .key(SK, s(BUCKET_SK))
            .update_expression("SET #block = :until, expires_ttl = :ttl")
            .expression_attribute_names("#block", attribute)
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":ttl", n(ttl(until)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
