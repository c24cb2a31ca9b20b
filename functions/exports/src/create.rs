//! `POST /exports`: the redemption log from `from` to `to`, exported now.

use chrono::Duration;
use common::ApiError;
use common::dates::{parse_end, parse_start};
use common::http::json;
use common::request::{self, lenient};
use common::tenant::TenantId;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use crate::{ExportsApp, export_view, tenant_prefix};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    #[serde(deserialize_with = "lenient::text")]
    from: String,
    #[serde(deserialize_with = "lenient::text")]
    to: String,
}

pub async fn handle(
    state: &ExportsApp,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: ExportRequest = request::decode(request::body_fields(req).await?)?;
    // A day alone means all of it: `from` its first instant, `to` its last.
    let from = parse_start("from", &body.from)?;
    let to = parse_end("to", &body.to)?;
    if to < from {
        return Err(ApiError::Invalid("to must not be before from".into()));
    }
    let max_days = state.exporter.max_range_days;
    if to - from > Duration::days(max_days) {
        return Err(ApiError::Invalid(format!(
            "an export covers at most {max_days} days"
        )));
    }
    let key = format!(
        "{}{}--{}--{}.xlsx",
        tenant_prefix(tenant),
        from.format("%Y%m%dT%H%M%SZ"),
        to.format("%Y%m%dT%H%M%SZ"),
        uuid::Uuid::new_v4().simple()
    );
    let record = state
        .exporter
        .export(&state.app.store, tenant, from, to, key)
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &export_view(&state.exporter, tenant, &record).await?,
    ))
}
