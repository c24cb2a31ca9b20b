//! Operator actions shared by `cms-admin`, the local stack and the tests.

use crate::error::ApiError;
use crate::store::{StoreError, TenantStore};
use crate::tenant::{IssuedToken, Tenant, TenantId, TokenRecord, token_hash};

/// Creates a tenant. With `exist_ok`, an existing tenant of that id is kept
/// as it is and returned instead.
pub async fn create_tenant(
    store: &impl TenantStore,
    tenant: Tenant,
    exist_ok: bool,
) -> Result<Tenant, ApiError> {
    match store.insert_tenant(&tenant).await {
        Ok(()) => Ok(tenant),
        Err(StoreError::AlreadyExists) if exist_ok => store
            .get_tenant(&tenant.id)
            .await?
            .ok_or_else(|| ApiError::Unavailable("tenant vanished while being created".into())),
        Err(StoreError::AlreadyExists) => Err(ApiError::AlreadyExists(format!(
            "tenant {} already exists",
            tenant.id
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Issues a token for an existing tenant; only its hash is stored. A chosen
/// secret that is already this tenant's token is accepted again as it is.
pub async fn issue_token(
    store: &impl TenantStore,
    tenant: &TenantId,
    token: IssuedToken,
) -> Result<IssuedToken, ApiError> {
    if store.get_tenant(tenant).await?.is_none() {
        return Err(ApiError::NotFound(format!("no tenant {tenant}")));
    }
    let hash = token_hash(&token.secret);
    if let Some(existing) = store.find_token(&hash).await? {
        return if existing.tenant_id == *tenant && existing.revoked_at.is_none() {
            Ok(IssuedToken {
                token_id: existing.token_id,
                secret: token.secret,
            })
        } else {
            Err(ApiError::AlreadyExists("that token is taken".into()))
        };
    }
    let record = TokenRecord {
        token_id: token.token_id.clone(),
        tenant_id: tenant.clone(),
        created_at: crate::dates::now(),
        revoked_at: None,
    };
    store.insert_token(&record, &hash).await?;
    Ok(token)
}
