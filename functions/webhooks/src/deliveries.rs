//! `GET /webhooks/{webhook_id}/deliveries?limit=&cursor=`: the webhook's
//! delivery attempts of the last 30 days, newest first, with the status
//! each got.

use common::http::json;
use common::request::{self, PageQuery, page_limit};
use common::store::{DeliveryStore, WebhookStore, is_delivery_cursor};
use common::tenant::TenantId;
use common::views::{DeliveryView, ListView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::{not_found, webhook_id};

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let query: PageQuery = request::decode(request::query_fields(req)?)?;
    let limit = page_limit(query.limit)?;
    if let Some(cursor) = &query.cursor
        && !is_delivery_cursor(cursor)
    {
        return Err(ApiError::Invalid("cursor: not one this list gave".into()));
    }
    let hook = webhook_id(id)?;
    if app.store.get_webhook(tenant, &hook).await?.is_none() {
        return Err(not_found(id));
    }
    let page = app
        .store
        .list_deliveries(tenant, &hook, limit, query.cursor.as_deref())
        .await?;
    let data = page.items.iter().map(DeliveryView::of).collect();
    Ok(json(StatusCode::OK, &ListView::page(data, page.next)))
}
