//! `GET /campaigns?limit=N&cursor=X`: the tenant's campaigns, newest first.

use common::campaign::CampaignId;
use common::http::json;
use common::request::{self, PageQuery};
use common::store::CampaignStore;
use common::tenant::TenantId;
use common::views::{CampaignView, ListView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let query: PageQuery = request::decode(request::query_fields(req)?)?;
    let limit = request::page_limit(query.limit)?;
    // The cursor is the last campaign id of the previous page; the tenant
    // part of the key is always the caller's.
    let after = query
        .cursor
        .map(|c| CampaignId::parse(&c).map_err(|_| ApiError::Invalid("cursor is not valid".into())))
        .transpose()?;
    let page = app
        .store
        .list_campaigns(tenant, limit, after.as_ref())
        .await?;
    let data = page.items.iter().map(CampaignView::of).collect();
    Ok(json(
        StatusCode::OK,
        &ListView::page(data, page.next.map(|id| id.as_str().to_owned())),
    ))
}
