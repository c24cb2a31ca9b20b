//! Rate-limit buckets in DynamoDB: each GCRA step is one conditional
//! `UpdateItem` (see `crate::limiter` for the algorithm).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::DynamoStore;
use super::StoreResult;
use super::item::{Item, n, s};
use super::schema::{PK, SK};
use super::transact::{is_condition_failure, unavailable};
use crate::limiter::{Attempt, BucketStore, Form, Rule};

pub const BUCKET_SK: &str = "BUCKET";
/// Idle buckets are removed by DynamoDB's TTL a day after they would be full.
const TTL_MARGIN_SECS: i64 = 86_400;

fn ttl(until_us: i64) -> i64 {
    until_us / 1_000_000 + TTL_MARGIN_SECS
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

impl BucketStore for DynamoStore {
    async fn attempt(&self, key: &str, form: Form, rule: Rule, now: i64) -> StoreResult<Attempt> {
        let mut values = Item::from([
            (":now".to_owned(), n(now)),
            (
                ":ttl".to_owned(),
                n(ttl(now + i64::from(rule.burst) * rule.interval_us)),
            ),
        ]);
        let (update, condition) = match form {
            Form::Idle => {
                values.insert(":new".into(), n(now + rule.interval_us));
                (
                    "SET tat = :new, expires_ttl = :ttl",
                    "attribute_not_exists(tat) OR tat <= :now",
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
                    "tat > :now AND tat <= :limit",
                )
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
                Ok(Attempt::Refused(old.and_then(|old| number(&old, "tat"))))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn block(&self, key: &str, until: i64) -> StoreResult<()> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(key))
            .key(SK, s(BUCKET_SK))
            .update_expression("SET blocked_until = :until, expires_ttl = :ttl")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":ttl", n(ttl(until)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn blocked_until(&self, key: &str) -> StoreResult<Option<i64>> {
        // Eventually consistent (half the read's cost): a block written a
        // moment ago may let one more lookup through.
        let send = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(key))
            .key(SK, s(BUCKET_SK))
            .projection_expression("blocked_until")
            .send();
        let output = Box::pin(send).await.map_err(unavailable)?;
        Ok(output
            .item
            .as_ref()
            .and_then(|item| number(item, "blocked_until")))
    }
}
