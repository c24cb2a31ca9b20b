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
    let product_id = product_id.as_deref();
    let key = (tenant.clone(), code.clone());
    let consuming = *req.method() == Method::POST;
    // A coupon this instance read moments ago saves the read: the consume
    // transaction re-checks every rule and the terms, and answers the
    // coupon's current state when they no longer hold.
    if consuming && let Some(seen) = app.recent_coupons.get(&key) {
        return consume(app, &tenant, &seen, product_id).await;
    }
    let Some(coupon) = app.store.get_coupon(&tenant, &code).await? else {
        app.recent_coupons.remove(&key);
        return Err(ApiError::NotFound(format!("no coupon {code}")));
    };
    app.recent_coupons.insert(key, coupon.clone());
    let refusal = coupon.refusal(common::dates::now(), product_id);
    if !consuming {
        return Ok(json(
            StatusCode::OK,
            &Validation {
                valid: refusal.is_none(),
                reason: refusal.map(|r| r.code()),
                coupon: coupon.to_json(),
            },
        ));
    }
    // Refuse early without a write.
    if let Some(refusal) = refusal {
        return Err(ApiError::Refused(refusal));
    }
    consume(app, &tenant, &coupon, product_id).await
}

async fn consume(
    app: &App,
    tenant: &TenantId,
    seen: &Coupon,
    product_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let key = (tenant.clone(), seen.code.clone());
    match app
        .store
        .consume(tenant, seen, product_id, common::dates::now())
        .await
    {
        Ok((redemption, after)) => {
            let response = json(StatusCode::OK, &redemption.to_json(after.uses_left));
            app.recent_coupons.insert(key, after);
            Ok(response)
        }
        Err(e) => {
            app.recent_coupons.remove(&key);
            Err(e.into())
        }
    }
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
