//! Webhooks: one item each in their tenant's webhook partition, beside a
//! count that caps how many a tenant has (changed in the same transaction
//! as the item, never read and written back).

use std::future::Future;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::item::*;
use super::schema::*;
use super::transact::{is_condition_failure, unavailable, write_failed};
use super::{DynamoStore, Missing, StoreError, StoreResult};
use crate::event::EventFilter;
use crate::tenant::TenantId;
use crate::webhook::{Disabled, MAX_WEBHOOKS, Webhook, WebhookId, WebhookSecret};

pub trait WebhookStore: Send + Sync {
    /// Writes a new webhook unless the tenant has `MAX_WEBHOOKS` already.
    fn create_webhook(
        &self,
        tenant: &TenantId,
        hook: &Webhook,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The tenant's webhooks, oldest first.
    fn list_webhooks(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = StoreResult<Vec<Webhook>>> + Send;
    fn get_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> impl Future<Output = StoreResult<Option<Webhook>>> + Send;
    fn delete_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Makes `secret` the webhook's; the one it replaces keeps signing
    /// beside it until `previous_until`.
    fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Webhook>> + Send;
    /// A delivery failed at `now`: the webhook is failing since its first
    /// failure after a success; failing for `disable_after`, it is disabled.
    /// Answers the webhook as it is after.
    fn delivery_failed(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        now: DateTime<Utc>,
        disable_after: chrono::Duration,
    ) -> impl Future<Output = StoreResult<Option<Webhook>>> + Send;
    /// A delivery succeeded: the webhook is no longer failing.
    fn delivery_succeeded(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

impl WebhookStore for DynamoStore {
    async fn create_webhook(&self, tenant: &TenantId, hook: &Webhook) -> StoreResult<()> {
        let mut tx = self.transaction();
        let count = tx.update(
            (webhooks_pk(tenant), WEBHOOK_COUNT_SK.to_owned()),
            "ADD webhook_count :one",
            "attribute_not_exists(webhook_count) OR webhook_count < :max",
            &[],
            Item::from([(":one".into(), n(1)), (":max".into(), n(MAX_WEBHOOKS))]),
        )?;
        tx.put(
            webhook_item(tenant, hook),
            Some("attribute_not_exists(PK)"),
            Item::new(),
        )?;
        match self.transact(tx, Some(hook.id.as_str())).await? {
            None => Ok(()),
            Some(cancelled) if cancelled.refused(count) => {
                Err(StoreError::TooManyWebhooks(MAX_WEBHOOKS))
            }
            Some(cancelled) => Err(cancelled.unexplained("create webhook")),
        }
    }

    async fn list_webhooks(&self, tenant: &TenantId) -> StoreResult<Vec<Webhook>> {
        // At most MAX_WEBHOOKS small items: one page.
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :hook)")
            .expression_attribute_values(":pk", s(webhooks_pk(tenant)))
            .expression_attribute_values(":hook", s("wh_"))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let mut hooks = output
            .items()
            .iter()
            .map(webhook_from)
            .collect::<StoreResult<Vec<_>>>()?;
        hooks.sort_by_key(|hook| hook.created_at);
        Ok(hooks)
    }

    async fn get_webhook(&self, tenant: &TenantId, id: &WebhookId) -> StoreResult<Option<Webhook>> {
        self.get(webhooks_pk(tenant), id.as_str())
            .await?
            .as_ref()
            .map(webhook_from)
            .transpose()
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: &WebhookId) -> StoreResult<()> {
        let mut tx = self.transaction();
        let hook = tx.delete(
            (webhooks_pk(tenant), id.as_str().to_owned()),
            Some("attribute_exists(PK)"),
            Item::new(),
        )?;
        // Every decrement has its condition: the count never goes below zero.
        tx.update(
            (webhooks_pk(tenant), WEBHOOK_COUNT_SK.to_owned()),
            "ADD webhook_count :minus_one",
            "webhook_count >= :one",
            &[],
            Item::from([(":minus_one".into(), n(-1)), (":one".into(), n(1))]),
        )?;
        match self.transact(tx, None).await? {
            None => Ok(()),
            Some(cancelled) if cancelled.refused(hook) => {
                Err(StoreError::NotFound(Missing::Webhook))
            }
            Some(cancelled) => Err(cancelled.unexplained("delete webhook")),
        }
    }

    async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        secret: &WebhookSecret,
        previous_until: DateTime<Utc>,
    ) -> StoreResult<Webhook> {
        let values = Item::from([
            (":until".into(), time(previous_until)),
            (":secret".into(), s(secret.expose())),
        ]);
        self.update_webhook(
            tenant,
            id,
            "SET previous_secret = secret, previous_secret_until = :until, secret = :secret",
            "attribute_exists(PK)",
            values,
        )
        .await?
        .ok_or(StoreError::NotFound(Missing::Webhook))
    }

    async fn delivery_failed(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        now: DateTime<Utc>,
        disable_after: chrono::Duration,
    ) -> StoreResult<Option<Webhook>> {
        let values = Item::from([(":now".into(), time(now))]);
        let Some(hook) = self
            .update_webhook(
                tenant,
                id,
                "SET failing_since = if_not_exists(failing_since, :now)",
                "attribute_exists(PK)",
                values,
            )
            .await?
        else {
            return Ok(None);
        };
        let failing_for = hook.failing_since.map(|since| now - since);
        if hook.disabled.is_some() || failing_for.is_none_or(|f| f < disable_after) {
            return Ok(Some(hook));
        }
        let reason = format!(
            "every delivery failed for {} hours (since {}); fix the receiver, then create the webhook again",
            disable_after.num_hours(),
            crate::dates::format(hook.failing_since.unwrap_or(now))
        );
        let values = Item::from([(":now".into(), time(now)), (":reason".into(), s(reason))]);
        // Still failing when disabled: a delivery that succeeded meanwhile
        // cleared `failing_since`.
        self.update_webhook(
            tenant,
            id,
            "SET disabled_at = :now, disabled_reason = :reason",
            "attribute_exists(failing_since) AND attribute_not_exists(disabled_at)",
            values,
        )
        .await
        .map(|updated| updated.or(Some(hook)))
    }

    async fn delivery_succeeded(&self, tenant: &TenantId, id: &WebhookId) -> StoreResult<()> {
        self.update_webhook(
            tenant,
            id,
            "REMOVE failing_since",
            "attribute_exists(failing_since)",
            Item::new(),
        )
        .await
        .map(drop)
    }
}

impl DynamoStore {
    /// A conditional update of a webhook: the webhook after, or `None` when
    /// the condition did not hold.
    async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        expression: &str,
        condition: &str,
        values: Item,
    ) -> StoreResult<Option<Webhook>> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(webhooks_pk(tenant)))
            .key(SK, s(id.as_str()))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.as_ref().map(webhook_from).transpose(),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(write_failed(e)),
        }
    }
}

fn webhook_item(tenant: &TenantId, hook: &Webhook) -> Item {
    let mut item = Item::from([
        (PK.into(), s(webhooks_pk(tenant))),
        (SK.into(), s(hook.id.as_str())),
        ("type".into(), s("webhook")),
        ("url".into(), s(&hook.url)),
        (
            "events".into(),
            AttributeValue::L(hook.events.names().into_iter().map(s).collect()),
        ),
        ("secret".into(), s(hook.secret.expose())),
        ("created_at".into(), time(hook.created_at)),
    ]);
    insert_optional(&mut item, "description", hook.description.clone().map(s));
    item
}

fn webhook_from(item: &Item) -> StoreResult<Webhook> {
    let secret = |name: &str| get_s(item, name).and_then(WebhookSecret::parse);
    let events: Vec<String> = item
        .get("events")
        .and_then(|v| v.as_l().ok())
        .map(|list| list.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    let disabled = match (
        get_time(item, "disabled_at"),
        get_s(item, "disabled_reason"),
    ) {
        (Some(at), Some(reason)) => Some(Disabled {
            at,
            reason: reason.to_owned(),
        }),
        _ => None,
    };
    Ok(Webhook {
        id: get_s(item, SK)
            .and_then(WebhookId::parse)
            .ok_or_else(|| corrupt(item, SK))?,
        url: req(item, get_s(item, "url"), "url")?.to_owned(),
        events: EventFilter::parse(&events).map_err(|_| corrupt(item, "events"))?,
        description: get_s(item, "description").map(str::to_owned),
        secret: req(item, secret("secret"), "secret")?,
        previous_secret: secret("previous_secret").zip(get_time(item, "previous_secret_until")),
        created_at: req_time(item, "created_at")?,
        failing_since: get_time(item, "failing_since"),
        disabled,
    })
}
