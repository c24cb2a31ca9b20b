//! Tenants and their API tokens.

use std::future::Future;

use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::item::*;
use super::schema::*;
use super::transact::{is_condition_failure, unavailable};
use super::{DynamoStore, Missing, StoreError, StoreResult};
use crate::tenant::{Tenant, TenantId, TokenRecord};

pub trait TenantStore: Send + Sync {
    fn insert_tenant(&self, tenant: &Tenant) -> impl Future<Output = StoreResult<()>> + Send;
    fn get_tenant(&self, id: &TenantId)
    -> impl Future<Output = StoreResult<Option<Tenant>>> + Send;
    /// Sets a tenant's rate and burst; `NotFound` when there is no such tenant.
    fn update_tenant_limits(
        &self,
        id: &TenantId,
        rate_per_second: u32,
        burst: u32,
    ) -> impl Future<Output = StoreResult<Tenant>> + Send;
    fn list_tenants(&self) -> impl Future<Output = StoreResult<Vec<Tenant>>> + Send;
    fn insert_token(
        &self,
        record: &TokenRecord,
        hash: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn find_token(
        &self,
        hash: &str,
    ) -> impl Future<Output = StoreResult<Option<TokenRecord>>> + Send;
    fn list_tokens(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = StoreResult<Vec<TokenRecord>>> + Send;
    fn revoke_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

impl TenantStore for DynamoStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(tenant_item(tenant)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        self.get(tenant_pk(id), TENANT_SK)
            .await?
            .map(|item| tenant_from(&item))
            .transpose()
    }

    async fn update_tenant_limits(
        &self,
        id: &TenantId,
        rate_per_second: u32,
        burst: u32,
    ) -> StoreResult<Tenant> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(tenant_pk(id)))
            .key(SK, s(TENANT_SK))
            .update_expression("SET rate_per_second = :rate, burst = :burst")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":rate", n(rate_per_second))
            .expression_attribute_values(":burst", n(burst))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => tenant_from(&output.attributes.unwrap_or_default()),
            Err(e) if is_condition_failure(&e) => Err(StoreError::NotFound(Missing::Tenant)),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.query_gsi1(TENANTS_GSI1PK.to_owned(), None)
            .await?
            .iter()
            .map(tenant_from)
            .collect()
    }

    async fn insert_token(&self, record: &TokenRecord, hash: &str) -> StoreResult<()> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(token_item(record, hash)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn find_token(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        self.get(token_pk(hash), TOKEN_SK)
            .await?
            .map(|item| token_from(&item))
            .transpose()
    }

    async fn list_tokens(&self, tenant: &TenantId) -> StoreResult<Vec<TokenRecord>> {
        self.query_gsi1(tokens_gsi1pk(tenant), None)
            .await?
            .iter()
            .map(token_from)
            .collect()
    }

    async fn revoke_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let items = self
            .query_gsi1(tokens_gsi1pk(tenant), Some(token_id))
            .await?;
        let Some(pk) = items.first().and_then(|item| item.get(PK)).cloned() else {
            return Err(StoreError::NotFound(Missing::Token));
        };
        self.client()
            .update_item()
            .table_name(self.table())
            .key(PK, pk)
            .key(SK, s(TOKEN_SK))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
            .expression_attribute_values(":now", time(now))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn tenant_item(tenant: &Tenant) -> Item {
    Item::from([
        (PK.into(), s(tenant_pk(&tenant.id))),
        (SK.into(), s(TENANT_SK)),
        (GSI1PK.into(), s(TENANTS_GSI1PK)),
        (GSI1SK.into(), s(tenant.id.as_str())),
        ("type".into(), s("tenant")),
        ("tenant_id".into(), s(tenant.id.as_str())),
        ("name".into(), s(&tenant.name)),
        ("rate_per_second".into(), n(tenant.rate_per_second)),
        ("burst".into(), n(tenant.burst)),
        ("created_at".into(), time(tenant.created_at)),
    ])
}

fn tenant_from(item: &Item) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: tenant_id_of(item)?,
        name: req(item, get_s(item, "name"), "name")?.to_owned(),
        rate_per_second: req(item, get_n(item, "rate_per_second"), "rate_per_second")?,
        burst: req(item, get_n(item, "burst"), "burst")?,
        created_at: req_time(item, "created_at")?,
    })
}

fn token_item(record: &TokenRecord, hash: &str) -> Item {
    Item::from([
        (PK.into(), s(token_pk(hash))),
        (SK.into(), s(TOKEN_SK)),
        (GSI1PK.into(), s(tokens_gsi1pk(&record.tenant_id))),
        (GSI1SK.into(), s(&record.token_id)),
        ("type".into(), s("token")),
        ("tenant_id".into(), s(record.tenant_id.as_str())),
        ("token_id".into(), s(&record.token_id)),
        ("created_at".into(), time(record.created_at)),
    ])
}

fn token_from(item: &Item) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        token_id: req(item, get_s(item, "token_id"), "token_id")?.to_owned(),
        tenant_id: tenant_id_of(item)?,
        created_at: req_time(item, "created_at")?,
        revoked_at: get_time(item, "revoked_at"),
    })
}

fn tenant_id_of(item: &Item) -> Result<TenantId, StoreError> {
    TenantId::parse(req(item, get_s(item, "tenant_id"), "tenant_id")?)
        .map_err(|_| corrupt(item, "tenant_id"))
}
