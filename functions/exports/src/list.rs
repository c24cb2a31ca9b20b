//! `GET /exports?limit=N&cursor=X`: the tenant's exports, newest first.

use common::ApiError;
use common::export::ExportCursor;
use common::http::json;
use common::request::{self, PageQuery};
use common::store::ExportStore;
use common::tenant::TenantId;
use common::views::ListView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::{ExportsApp, export_view};

pub async fn handle(
    state: &ExportsApp,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let query: PageQuery = request::decode(request::query_fields(req)?)?;
    let limit = request::page_limit(query.limit)?;
    let after = query
        .cursor
        .map(|cursor| ExportCursor::parse(&cursor, tenant))
        .transpose()?;
    let (records, next) = state
        .app
        .store
        .list_exports(tenant, limit, after.as_ref())
        .await?;
    let mut data = Vec::with_capacity(records.len());
    for record in &records {
        data.push(export_view(&state.exporter, tenant, record).await?);
    }
    Ok(json(
        StatusCode::OK,
        &ListView::page(data, next.map(|cursor| cursor.to_string())),
    ))
}
