//! `/exports`: `POST` writes the redemption log for a time range to S3 as
//! `.xlsx` now; `GET` lists the tenant's exports with fresh presigned links.
//! The daily export (`export-schedule`, `export-worker`) uses the same
//! writer (`daily`).

mod create;
pub mod daily;
mod export;
mod list;
pub mod workbook;

pub use common::export::tenant_prefix;
pub use export::{Exporter, s3_client};

use common::http::serve;
use common::routes::{Matched, Route};
use common::tenant::TenantId;
use common::views::ExportView;
use common::{ApiError, App};
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};

/// What the export functions build once per cold start.
pub struct ExportsApp {
    pub app: App,
    pub exporter: Exporter,
}

impl ExportsApp {
    /// Both from one SDK config, read from the environment.
    pub fn from_env() -> Result<ExportsApp, Error> {
        let sdk = common::app::sdk_config()?;
        Ok(ExportsApp {
            app: App::from_sdk(&sdk)?,
            exporter: Exporter::from_env(&sdk)?,
        })
    }
}

pub async fn handle(state: &ExportsApp, req: Request) -> Result<Response<Body>, Error> {
    Ok(serve(&state.app, &req, |_, tenant, req, matched| {
        route(state, tenant, req, matched)
    })
    .await)
}

async fn route(
    state: &ExportsApp,
    tenant: TenantId,
    req: &Request,
    matched: Matched<'_>,
) -> Result<Response<Body>, ApiError> {
    match (req.method(), matched.route()) {
        (&Method::POST, Route::Exports) => create::handle(state, &tenant, req).await,
        (&Method::GET, Route::Exports) => list::handle(state, &tenant, req).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

/// An export as clients see it, with a link that is fresh on every answer.
async fn export_view<'a>(
    exporter: &Exporter,
    tenant: &TenantId,
    record: &'a common::export::ExportRecord,
) -> Result<ExportView<'a>, ApiError> {
    let (url, expires_at) = exporter.link(tenant, &record.key).await?;
    Ok(ExportView::of(record, url, expires_at))
}
