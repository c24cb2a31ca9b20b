//! `/coupon/consume`: `GET` validates a code (no side effects), `POST`
//! consumes one use atomically and logs the redemption.

use common::code::CouponCode;
use common::coupon::{Coupon, MAX_PRODUCT_ID_CHARS, Validation, parse_label};
use common::http::{json, path_segments, serve};
use common::request::{self, lenient};
use common::store::{CouponStore, RedemptionStore};
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};
use serde::Deserialize;

pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, Error> {
    Ok(serve(app, &req, route).await)
}

async fn route(app: &App, tenant: TenantId, req: &Request) -> Result<Response<Body>, ApiError> {
    if path_segments(req) != ["coupon", "consume"] {
        return Err(ApiError::NotFound("no such route".into()));
    }
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return Err(ApiError::MethodNotAllowed);
    }
    let (code, product_id) = params(req).await?;
    let coupon = app
        .store
        .get_coupon(&tenant, &code)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no coupon {code}")))?;
    let now = common::dates::now();
    let refusal = coupon.refusal(now, product_id.as_deref());
    if *req.method() == Method::GET {
        return Ok(json(
            StatusCode::OK,
            &Validation {
                valid: refusal.is_none(),
                reason: refusal.map(|r| r.code()),
                coupon: coupon.to_json(),
            },
        ));
    }
    // Refuse early without a write; the transaction re-checks it all.
    if let Some(refusal) = refusal {
        return Err(ApiError::Refused(refusal));
    }
    consume(app, &tenant, &coupon, product_id.as_deref()).await
}

async fn consume(
    app: &App,
    tenant: &TenantId,
    coupon: &Coupon,
    product_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let redemption = app
        .store
        .consume(tenant, coupon, product_id, common::dates::now())
        .await?;
    Ok(json(StatusCode::OK, &redemption.to_json()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumeParams {
    #[serde(deserialize_with = "lenient::text")]
    code: String,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    product_id: Option<String>,
}

/// `code` and `product_id`, from the query string (as the original API
/// sends them) or the body.
async fn params(req: &Request) -> Result<(CouponCode, Option<String>), ApiError> {
    let fields = request::merge(
        request::query_fields(req)?,
        request::body_fields(req).await?,
    )?;
    let params: ConsumeParams = request::decode(fields)?;
    let product_id = params
        .product_id
        .map(|p| parse_label("product_id", &p, MAX_PRODUCT_ID_CHARS))
        .transpose()?;
    Ok((CouponCode::parse(&params.code)?, product_id))
}
