//! `/coupon/reserve`: hold one use for a checkout until it is paid
//! (consume with `reservation_id`), cancelled (`DELETE`), or expires (its
//! use comes back, once).

use chrono::Duration;
use common::http::{json, no_content};
use common::store::{ReleaseStore, ReservationStore};
use common::tenant::TenantId;
use common::views::ReservationView;
use common::{ApiError, App};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::redeem::{Parsed, params, read_coupon, shown_to, write_failed};

pub const DEFAULT_TTL_SECONDS: u64 = 15 * 60;
pub const MAX_TTL_SECONDS: u64 = 24 * 3600;

pub async fn create(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let Parsed {
        code,
        redeem,
        reservation_id,
        ttl_seconds,
        metadata,
    } = params(req).await?;
    if reservation_id.is_some() || metadata.is_some() {
        return Err(ApiError::Invalid(
            "reservation_id and metadata belong to /coupon/consume".into(),
        ));
    }
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(ApiError::Invalid(format!(
            "ttl_seconds must be 1 to {MAX_TTL_SECONDS}"
        )));
    }
    let coupon = shown_to(read_coupon(app, tenant, &code).await?, &redeem)?;
    coupon.require_details(&redeem)?;
    let now = app.clock.now();
    match coupon.refusal(now, &redeem) {
        // Uses held by expired reservations come back inside the store's reserve.
        refusal if coupon.exhausted_but_held(refusal) => {}
        Some(refusal) => return Err(ApiError::Refused(refusal)),
        None => {}
    }
    let expires_at = now + Duration::seconds(ttl as i64);
    let held = app
        .store
        .reserve(tenant, &coupon, &redeem, expires_at, now)
        .await;
    let key = (tenant.clone(), code);
    match held {
        Ok((reservation, after)) => {
            let body = ReservationView::made(&reservation, now, after.uses_left);
            app.recent_coupons.insert(key, after);
            Ok(json(StatusCode::CREATED, &body))
        }
        Err(e) => {
            app.recent_coupons.remove(&key);
            Err(write_failed(e, &key.1))
        }
    }
}

pub async fn show(app: &App, tenant: &TenantId, id: &str) -> Result<Response<Body>, ApiError> {
    let held = app
        .store
        .get_reservation(tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no reservation {id}")))?;
    Ok(json(
        StatusCode::OK,
        &ReservationView::of(&held, app.clock.now()),
    ))
}

/// Cancels a hold: its use goes back now rather than at expiry. Cancelling
/// one that was released or expired already changes nothing.
pub async fn release(app: &App, tenant: &TenantId, id: &str) -> Result<Response<Body>, ApiError> {
    let held = app
        .store
        .get_reservation(tenant, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no reservation {id}")))?;
    app.store
        .release_reservation(tenant, &held, false, app.clock.now())
        .await?;
    app.recent_coupons.remove(&(tenant.clone(), held.code));
    Ok(no_content())
}
