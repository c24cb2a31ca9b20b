//! `PUT /coupon/{code}`: changes a coupon's attributes. A field left out
//! stays as it is; `null` (or an empty form value) clears an optional one.

use common::code::CouponCode;
use common::coupon::{CouponPatch, MAX_AVAILABILITY};
use common::http::json;
use common::request;
use common::store::{CouponStore, Missing, StoreError};
use common::tenant::TenantId;
use common::views::CouponView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use common::terms::TermsFields;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    code: &str,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let code = CouponCode::parse(code)?;
    let mut fields = request::body_fields(req).await?;
    let metadata = request::take_metadata(&mut fields)?;
    let terms: TermsFields = request::decode(fields)?;
    let patch = CouponPatch {
        metadata,
        ..terms.parse()?
    };
    if patch.uses_left.is_some_and(|n| n > MAX_AVAILABILITY) {
        return Err(ApiError::Invalid(format!(
            "availability_count must be 0 to {MAX_AVAILABILITY}"
        )));
    }
    if patch.is_empty() {
        return Err(ApiError::Invalid(
            "nothing to change: give at least one field".into(),
        ));
    }
    match app
        .store
        .update_coupon(tenant, &code, &patch, app.clock.now())
        .await
    {
        Ok(coupon) => Ok(json(StatusCode::OK, &CouponView::of(&coupon))),
        Err(StoreError::NotFound(Missing::Coupon)) => {
            Err(ApiError::NotFound(format!("no coupon {code}")))
        }
        Err(e) => Err(e.into()),
    }
}
