//! `/campaigns` and `/campaigns/{campaign_id}`: create, list, read, change
//! and delete campaigns; `/campaigns/{campaign_id}/codes-export`: its codes
//! as CSV in S3; `/campaigns/{campaign_id}/import`: existing codes brought
//! in by a job; `/campaigns/{campaign_id}/codes`: its codes deleted by a
//! job. New codes are made through `POST /coupon` with `campaign_id`.

mod codes_export;
mod create;
mod delete;
mod delete_codes;
mod details;
mod fields;
mod import;
mod list;
mod update;

use common::ApiError;
use common::campaign::CampaignId;
use common::http::serve;
use common::routes::{Matched, Route};
use common::tenant::TenantId;
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, Response};

/// The campaigns function needs the exports' S3 writer for its codes export.
pub use exports::ExportsApp;

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
    let app = &state.app;
    let id = || campaign_id(matched.param());
    match (req.method(), matched.route()) {
        (&Method::POST, Route::Campaigns) => create::handle(app, &tenant, req).await,
        (&Method::GET, Route::Campaigns) => list::handle(app, &tenant, req).await,
        (&Method::GET, Route::Campaign) => details::handle(app, &tenant, &id()?).await,
        (&Method::PUT, Route::Campaign) => update::handle(app, &tenant, &id()?, req).await,
        (&Method::DELETE, Route::Campaign) => delete::handle(app, &tenant, &id()?).await,
        (&Method::POST, Route::CampaignCodesExport) => {
            codes_export::handle(state, &tenant, &id()?).await
        }
        (&Method::POST, Route::CampaignImport) => import::handle(app, &tenant, &id()?, req).await,
        (&Method::DELETE, Route::CampaignCodes) => delete_codes::handle(app, &tenant, &id()?).await,
        _ => Err(ApiError::NotFound("no such route".into())),
    }
}

/// A path's campaign id: one that cannot be an id names no campaign.
fn campaign_id(text: &str) -> Result<CampaignId, ApiError> {
    CampaignId::parse(text).map_err(|_| ApiError::NotFound(format!("no campaign {text}")))
}

/// The answer when `id` names none of the caller's campaigns.
fn not_found(id: &CampaignId) -> ApiError {
    ApiError::NotFound(format!("no campaign {id}"))
}
