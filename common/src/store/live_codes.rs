//! Live-code counts per keyspace shape: how many generated codes of one
//! length and alphabet exist, against the shape's `max_live`, so a tenant
//! cannot fill a keyspace until codes become guessable.

use std::future::Future;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::item::*;
use super::schema::*;
use super::transact::{is_condition_failure, unavailable};
use super::{DynamoStore, StoreResult};
use crate::keyspace::Shape;
use crate::tenant::TenantId;

pub trait LiveCodeStore: Send + Sync {
    /// Counts `quantity` more live codes of `shape`, unless that would pass
    /// its `max_live`; then answers `Err(live)` with the count as it stands.
    fn reserve_live_codes(
        &self,
        tenant: &TenantId,
        shape: &Shape,
        quantity: u64,
    ) -> impl Future<Output = StoreResult<Result<(), u64>>> + Send;
    /// Gives back live-code counts of a shape (codes deleted or never made).
    fn release_live_codes(
        &self,
        tenant: &TenantId,
        shape_key: &str,
        quantity: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

impl LiveCodeStore for DynamoStore {
    async fn reserve_live_codes(
        &self,
        tenant: &TenantId,
        shape: &Shape,
        quantity: u64,
    ) -> StoreResult<Result<(), u64>> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(live_codes_pk(tenant, &shape.key)))
            .key(SK, s(LIVE_CODES_SK))
            .update_expression("ADD live :q")
            .condition_expression("attribute_not_exists(live) OR live <= :cap")
            .expression_attribute_values(":q", n(quantity))
            .expression_attribute_values(":cap", n(shape.max_live.saturating_sub(quantity)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_condition_failure(&e) => {
                let live = match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(c)) => c
                        .item()
                        .and_then(|old| old.get("live"))
                        .and_then(|v| v.as_n().ok())
                        .and_then(|v| v.parse().ok()),
                    _ => None,
                };
                Ok(Err(live.unwrap_or(shape.max_live)))
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn release_live_codes(
        &self,
        tenant: &TenantId,
        shape_key: &str,
        quantity: u64,
    ) -> StoreResult<()> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(live_codes_pk(tenant, shape_key)))
            .key(SK, s(LIVE_CODES_SK))
            .update_expression("ADD live :minus")
            // Never below zero: giving back more than is counted is a bug
            // elsewhere, and a count too high only makes the policy stricter.
            .condition_expression("live >= :quantity")
            .expression_attribute_values(":minus", AttributeValue::N(format!("-{quantity}")))
            .expression_attribute_values(":quantity", n(quantity))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => {
                tracing::error!(
                    shape = shape_key,
                    quantity,
                    "live-code count lower than what is given back; left as it is"
                );
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
