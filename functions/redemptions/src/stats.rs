//! `GET /stats?from=&to=`: the tenant's redemptions, reversals and
//! discount per day (UTC), for the console's chart and for dashboards.
//! The figures come from the table's stream (`common::store::StatsStore`):
//! a consume shows here seconds after it is answered.

use common::http::json;
use common::request::{self, lenient};
use common::stats::DayRange;
use common::store::StatsStore;
use common::tenant::TenantId;
use common::views::StatsView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    from: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    to: Option<String>,
}

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let params: StatsParams = request::decode(request::query_fields(req)?)?;
    let today = app.clock.now().date_naive();
    let range = DayRange::parse(params.from.as_deref(), params.to.as_deref(), today)?;
    let days = app.store.day_stats(tenant, range).await?;
    Ok(json(StatusCode::OK, &StatsView::of(range, &days)))
}
