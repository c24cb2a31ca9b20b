//! `GET /redemptions?code=&customer_id=&campaign_id=&kind=&from=&to=&limit=&cursor=`:
//! the tenant's redemption log, newest first. Each question is a Query on
//! the index built for it (`common::store::LedgerStore`).

use chrono::{DateTime, Utc};
use common::campaign::CampaignId;
use common::code::CouponCode;
use common::coupon::{MAX_CUSTOMER_ID_CHARS, RedemptionKind};
use common::dates::{parse_end, parse_start};
use common::http::json;
use common::ledger::{LedgerCursor, LedgerQuery};
use common::offer::parse_label;
use common::request::{self, lenient};
use common::store::{LedgerStore, TenantStore};
use common::tenant::TenantId;
use common::views::{ListView, RedemptionView};
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerParams {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    customer_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    campaign_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    from: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    to: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_number")]
    limit: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    cursor: Option<String>,
}

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let params: LedgerParams = request::decode(request::query_fields(req)?)?;
    let mut query = parse(params, tenant, app.clock.now())?;
    // Only time narrows it: the walk over the days goes back as far as the
    // tenant's first day, not to 1970.
    if query.code.is_none() && query.customer_id.is_none() && query.campaign_id.is_none() {
        let created = app.store.get_tenant(tenant).await?.map(|t| t.created_at);
        if let Some(created) = created {
            query.from = query.from.max(start_of_day(created));
        }
    }
    let page = app.store.ledger_page(tenant, &query).await?;
    let data = page.rows.iter().map(RedemptionView::logged).collect();
    let next = page.next.map(|cursor| cursor.to_text(tenant));
    Ok(json(StatusCode::OK, &ListView::page(data, next)))
}

fn parse(
    params: LedgerParams,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> Result<LedgerQuery, ApiError> {
    let from = params.from.map(|f| parse_start("from", &f)).transpose()?;
    let to = params.to.map(|t| parse_end("to", &t)).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(ApiError::Invalid("to must not be before from".into()));
    }
    let kind = params
        .kind
        .map(|kind| {
            RedemptionKind::parse(&kind).ok_or_else(|| {
                ApiError::Invalid(format!("kind must be consume or reversal, got {kind:?}"))
            })
        })
        .transpose()?;
    Ok(LedgerQuery {
        code: params.code.map(|c| CouponCode::parse(&c)).transpose()?,
        customer_id: params
            .customer_id
            .map(|c| parse_label("customer_id", &c, MAX_CUSTOMER_ID_CHARS))
            .transpose()?,
        campaign_id: params
            .campaign_id
            .map(|c| CampaignId::parse(&c))
            .transpose()?,
        kind,
        from: from.unwrap_or(DateTime::UNIX_EPOCH),
        // A row is written with its instance's clock: a minute's slack
        // keeps a row just written on another instance in the first page.
        to: to.unwrap_or(now + chrono::Duration::minutes(1)),
        limit: request::page_limit(params.limit)?,
        before: params
            .cursor
            .map(|c| LedgerCursor::parse(&c, tenant))
            .transpose()?,
    })
}

fn start_of_day(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}
