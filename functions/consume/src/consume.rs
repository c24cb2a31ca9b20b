//! `POST /coupon/consume`: takes one use atomically and logs the
//! redemption; with `reservation_id`, converts a held use instead. An
//! `Idempotency-Key` makes a retry answer the first response, whatever
//! changed since: no refusal is answered before the key is known to be new.

use chrono::{DateTime, Utc};
use common::code::CouponCode;
use common::coupon::{Coupon, Redeem, Redemption, Reservation};
use common::http::json_text;
use common::idempotency::{self, Idempotency};
use common::metadata::Metadata;
use common::refusal::Refusal;
use common::store::{ConsumeRequest, ConsumeStore, Consumed, ReservationStore};
use common::tenant::TenantId;
use common::views::RedemptionView;
use common::{ApiError, App};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::redeem::{Parsed, params, read_coupon, shown_to, write_failed};

pub async fn handle(
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
    let metadata = metadata.unwrap_or_default();
    if ttl_seconds.is_some() {
        return Err(ApiError::Invalid(
            "ttl_seconds belongs to /coupon/reserve".into(),
        ));
    }
    let idempotency = match req.headers().get(idempotency::HEADER) {
        Some(key) => {
            let key = key
                .to_str()
                .map_err(|_| ApiError::Invalid("Idempotency-Key must be printable ASCII".into()))?;
            let order = redeem.order.as_ref();
            let mut parameters = json!([
                code.as_str(),
                redeem.product_id,
                redeem.customer_id,
                order.map(|o| o.amount.minor()),
                order.and_then(|o| o.currency.clone()),
                reservation_id,
            ]);
            // Only when given: a key stored before metadata existed keeps
            // its fingerprint, so its retry across the upgrade replays.
            if !metadata.is_empty()
                && let Some(parameters) = parameters.as_array_mut()
            {
                parameters.push(json!(metadata));
            }
            Some(Idempotency::parse(key, &parameters)?)
        }
        None => None,
    };
    let now = app.clock.now();
    let asked = Asked {
        code,
        redeem,
        reservation_id,
        metadata,
    };
    let outcome = take_a_use(app, tenant, asked, &idempotency, now).await;
    match (outcome, &idempotency) {
        // The key's first request may have consumed already; then its
        // answer stands, even if the coupon has changed, expired, run out
        // or gone since. Its success would have written the key in the
        // same transaction, so one strongly consistent read tells.
        (Err(refusal), Some(key)) if answers_the_request(&refusal) => {
            match app.store.idempotent_answer(tenant, key, now).await? {
                Some(body) => Ok(replayed(body)),
                None => Err(refusal),
            }
        }
        (outcome, _) => outcome,
    }
}

/// A 404, 409 or 422 about the coupon or reservation (not about the
/// request's own form, which the first request shared).
fn answers_the_request(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::NotFound(_) | ApiError::Refused(_) | ApiError::Invalid(_)
    )
}

/// The consume response, kept with the row for a retry to replay.
fn render_consumed(row: &Redemption, uses_left: u64) -> String {
    serde_json::to_string(&RedemptionView::consumed(row, uses_left)).unwrap_or_default()
}

fn replayed(body: String) -> Response<Body> {
    let mut response = json_text(StatusCode::OK, body);
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// What one consume asks for.
struct Asked {
    code: CouponCode,
    redeem: Redeem,
    reservation_id: Option<String>,
    metadata: Metadata,
}

async fn take_a_use(
    app: &App,
    tenant: &TenantId,
    asked: Asked,
    idempotency: &Option<Idempotency>,
    now: DateTime<Utc>,
) -> Result<Response<Body>, ApiError> {
    let Asked {
        code,
        mut redeem,
        reservation_id,
        metadata,
    } = asked;
    let reservation = match &reservation_id {
        Some(id) => {
            let held = app
                .store
                .get_reservation(tenant, id)
                .await?
                .filter(|held| held.code == code)
                .ok_or_else(|| ApiError::NotFound(format!("no reservation {id} for {code}")))?;
            match (&redeem.customer_id, &held.customer_id) {
                (Some(asked), Some(own)) if asked != own => {
                    return Err(ApiError::Invalid(format!(
                        "reservation {id} is for another customer"
                    )));
                }
                (None, own) => redeem.customer_id = own.clone(),
                _ => {}
            }
            Some(held)
        }
        None => None,
    };

    let key = (tenant.clone(), code.clone());
    // A coupon this instance read moments ago saves the read: the
    // transaction re-checks every rule and the terms, and its refusal
    // reports the coupon's current state.
    let (coupon, fresh) = match app.recent_coupons.get(&key) {
        Some(coupon) => (coupon, false),
        None => (read_coupon(app, tenant, &code).await?, true),
    };
    // The write checks the owner too: the code may be assigned since.
    let coupon = shown_to(coupon, &redeem)?;
    coupon.require_details(&redeem)?;
    // Refuse early, without a write, what a fresh read says cannot work.
    if fresh {
        refuse_early(&coupon, &redeem, reservation.as_ref(), now)?;
    }
    let consumed = app
        .store
        .consume(
            tenant,
            ConsumeRequest {
                seen: &coupon,
                redeem: &redeem,
                reservation: reservation.as_ref(),
                idempotency: idempotency.as_ref(),
                metadata: &metadata,
                now,
                render: &render_consumed,
            },
        )
        .await;
    match consumed {
        Ok(Consumed::Fresh { after, body }) => {
            app.recent_coupons.insert(key, *after);
            Ok(json_text(StatusCode::OK, body))
        }
        Ok(Consumed::Replayed { body }) => Ok(replayed(body)),
        Err(e) => {
            app.recent_coupons.remove(&key);
            Err(write_failed(e, &key.1))
        }
    }
}

fn refuse_early(
    coupon: &Coupon,
    redeem: &Redeem,
    reservation: Option<&Reservation>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(refusal) = reservation.and_then(|held| held.refusal(now)) {
        return Err(ApiError::Refused(refusal));
    }
    match coupon.refusal(now, redeem) {
        // A reservation holds its use already; and uses held by expired
        // reservations come back inside the store's consume.
        Some(Refusal::Exhausted) if reservation.is_some() => Ok(()),
        refusal if coupon.exhausted_but_held(refusal) => Ok(()),
        Some(refusal) => Err(ApiError::Refused(refusal)),
        None => Ok(()),
    }
}
