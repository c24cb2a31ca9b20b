//! The toolkit every write of the store uses: a transaction builder whose
//! writes answer the slot they sit in (so a cancellation is read by name,
//! not by position), one retry helper with one attempt count, and the
//! reading of DynamoDB's failures (condition failed, refused, or unknown).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use rand::RngExt;

use super::item::{Item, s};
use super::schema::{PK, SK};
use super::{StoreError, StoreResult};

/// Attempts at one write: its item may change between read and write, and
/// DynamoDB cancels transactions that touch an item another transaction is
/// writing at that moment.
pub(super) const ATTEMPTS: u32 = 6;

/// An item's key: partition key and sort key.
pub(super) type Key = (String, String);

/// Where a write sits in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot(usize);

/// A `TransactWriteItems` being built. Every write is conditional and, when
/// its condition fails, returns the item as it was: that tells why without
/// another read.
#[derive(Clone)]
pub(super) struct Transaction {
    table: String,
    items: Vec<TransactWriteItem>,
}

impl Transaction {
    pub(super) fn new(table: &str) -> Transaction {
        Transaction {
            table: table.to_owned(),
            items: Vec::with_capacity(4),
        }
    }

    fn push(&mut self, item: TransactWriteItem) -> Slot {
        self.items.push(item);
        Slot(self.items.len() - 1)
    }

    /// Every slot of the transaction, in order.
    pub(super) fn slots(&self) -> impl Iterator<Item = Slot> + use<> {
        (0..self.items.len()).map(Slot)
    }

    /// An `UpdateItem` of `key`; `names` maps `#placeholders` to attributes.
    pub(super) fn update(
        &mut self,
        key: Key,
        expression: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Item,
    ) -> StoreResult<Slot> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(key.0))
            .key(SK, s(key.1))
            .update_expression(expression)
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (placeholder, name) in names {
            update = update.expression_attribute_names(*placeholder, *name);
        }
        if !values.is_empty() {
            update = update.set_expression_attribute_values(Some(values));
        }
        let update = update.build().map_err(unbuildable)?;
        Ok(self.push(TransactWriteItem::builder().update(update).build()))
    }

    /// A `PutItem` of `item`, if `condition` holds (`None`: unconditional).
    pub(super) fn put(
        &mut self,
        item: Item,
        condition: Option<&str>,
        values: Item,
    ) -> StoreResult<Slot> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if !values.is_empty() {
            put = put.set_expression_attribute_values(Some(values));
        }
        let put = put.build().map_err(unbuildable)?;
        Ok(self.push(TransactWriteItem::builder().put(put).build()))
    }

    /// A `DeleteItem` of `key`, if `condition` holds (`None`: unconditional).
    pub(super) fn delete(
        &mut self,
        key: Key,
        condition: Option<&str>,
        values: Item,
    ) -> StoreResult<Slot> {
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(key.0))
            .key(SK, s(key.1))
            .set_condition_expression(condition.map(str::to_owned))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if !values.is_empty() {
            delete = delete.set_expression_attribute_values(Some(values));
        }
        let delete = delete.build().map_err(unbuildable)?;
        Ok(self.push(TransactWriteItem::builder().delete(delete).build()))
    }

    /// Sends the transaction: `None` when it committed, the reasons when
    /// DynamoDB cancelled it, an error for any other failure. `token` (the
    /// id of the row or reservation it writes) makes the SDK's own retries
    /// idempotent on DynamoDB: a retry of an attempt that committed but
    /// whose answer was lost succeeds without writing again.
    pub(super) async fn commit(
        self,
        client: &Client,
        token: Option<&str>,
    ) -> StoreResult<Option<Cancelled>> {
        // Boxed, like the limiter's: see `BucketStore::attempt` there.
        let send = client
            .transact_write_items()
            .set_transact_items(Some(self.items))
            .set_client_request_token(token.map(str::to_owned))
            .send();
        match Box::pin(send).await {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
                    Ok(Some(Cancelled(t.cancellation_reasons().to_vec())))
                }
                _ => Err(write_failed(e)),
            },
        }
    }
}

fn unbuildable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Why DynamoDB cancelled a transaction, slot by slot.
#[derive(Debug)]
pub(super) struct Cancelled(Vec<CancellationReason>);

impl Cancelled {
    /// `Some(item as it was)` when the write at `slot` failed its condition;
    /// `None` also for a slot the transaction did not have.
    pub(super) fn failed(&self, slot: impl Into<Option<Slot>>) -> Option<Option<&Item>> {
        let reason = self.0.get(slot.into()?.0)?;
        (reason.code() == Some("ConditionalCheckFailed")).then(|| reason.item())
    }

    /// Whether the write at `slot` failed its condition.
    pub(super) fn refused(&self, slot: impl Into<Option<Slot>>) -> bool {
        self.failed(slot).is_some()
    }

    /// Whether any write failed its condition.
    pub(super) fn any_refused(&self) -> bool {
        self.0
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed"))
    }

    /// A cancellation none of the conditions explains.
    pub(super) fn unexplained(&self, operation: &str) -> StoreError {
        StoreError::Unavailable(format!("{operation} cancelled: {:?}", self.0))
    }

    /// Another transaction held one of the items: worth another attempt.
    pub(super) fn conflicted(&self) -> bool {
        self.0
            .iter()
            .any(|r| r.code() == Some("TransactionConflict"))
    }
}

/// The attempts of one write, counted from 1.
pub(super) struct Attempts {
    made: u32,
    limit: u32,
}

impl Attempts {
    pub(super) fn new(limit: u32) -> Attempts {
        Attempts { made: 0, limit }
    }

    /// Starts another attempt; `false` once all are spent.
    pub(super) fn another(&mut self) -> bool {
        if self.made >= self.limit {
            return false;
        }
        self.made += 1;
        true
    }

    /// A short random pause before the next attempt, longer after each, so
    /// conflicting requests do not retry in lockstep.
    pub(super) async fn back_off(&self) {
        let millis = rand::rng().random_range(5..=20) * u64::from(self.made.max(1));
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }

    /// The failure once every attempt of `operation` was spent.
    pub(super) fn spent(operation: &str) -> StoreError {
        StoreError::Unavailable(format!(
            "{operation}: its items kept changing; nothing was written"
        ))
    }
}

pub(super) fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(DisplayErrorContext(e).to_string())
}

/// A failed write: known not to have happened when DynamoDB refused it
/// (throttling, validation) or it was never sent; otherwise (a timeout, a
/// dropped connection, an internal error, an unreadable answer) it may
/// have committed with its answer lost.
pub(super) fn write_failed<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let not_applied = match &e {
        SdkError::ConstructionFailure(_) => true,
        SdkError::ServiceError(service) => {
            !matches!(service.err().code(), None | Some("InternalServerError"))
        }
        _ => false,
    };
    if not_applied {
        unavailable(e)
    } else {
        StoreError::OutcomeUnknown(DisplayErrorContext(e).to_string())
    }
}

/// Whether a single-item write failed because its condition did not hold
/// (every DynamoDB write operation reports it with the same error code).
pub(super) fn is_condition_failure<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;

    use super::*;

    fn service(code: &str) -> SdkError<TransactWriteItemsError, ()> {
        let error = TransactWriteItemsError::generic(ErrorMetadata::builder().code(code).build());
        SdkError::service_error(error, ())
    }

    #[test]
    fn a_write_whose_answer_was_lost_has_an_unknown_outcome() {
        let unknown = [
            SdkError::timeout_error("attempt timed out"),
            SdkError::response_error("unreadable answer", ()),
            service("InternalServerError"),
        ];
        for e in unknown {
            assert!(matches!(write_failed(e), StoreError::OutcomeUnknown(_)));
        }
        let refused = [
            SdkError::construction_failure("never sent"),
            service("ThrottlingException"),
            service("ProvisionedThroughputExceededException"),
        ];
        for e in refused {
            assert!(matches!(write_failed(e), StoreError::Unavailable(_)));
        }
    }

    #[test]
    fn a_cancellation_is_read_by_the_slot_a_write_was_given() {
        let mut tx = Transaction::new("t");
        let first = tx
            .update(
                ("a".into(), "b".into()),
                "SET x = :x",
                "y = :y",
                &[],
                Item::new(),
            )
            .unwrap();
        let second = tx.put(Item::new(), Some("attribute_not_exists(PK)"), Item::new());
        let second = second.unwrap();
        assert_eq!(tx.slots().collect::<Vec<_>>(), [first, second]);
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let cancelled = Cancelled(vec![reason("None"), reason("ConditionalCheckFailed")]);
        assert!(!cancelled.refused(first));
        assert!(cancelled.refused(second));
        assert!(!cancelled.refused(None));
        assert!(!cancelled.conflicted());
    }

    #[test]
    fn attempts_are_counted_once_from_one() {
        let mut attempts = Attempts::new(3);
        let mut made = Vec::new();
        while attempts.another() {
            made.push(attempts.made);
        }
        assert_eq!(made, [1, 2, 3]);
    }
}
