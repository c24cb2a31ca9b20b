//! Events as receivers get them, and webhooks as their owners see them.

use serde::Serialize;

use crate::code::CouponCode;
use crate::dates;
use crate::event::Event;
use crate::export::ExportRecord;
use crate::webhook::{Delivery, Webhook};
use chrono::{DateTime, Utc};

/// An event: the body of a webhook delivery and the `detail` of its
/// EventBridge entry. No tenant: the receiver is that tenant.
#[derive(Serialize)]
pub struct EventView<'a> {
    created_at: String,
    data: &'a serde_json::Value,
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<'a> EventView<'a> {
    pub fn of(event: &'a Event) -> EventView<'a> {
        EventView {
            created_at: dates::format(event.created_at),
            data: &event.data,
            id: &event.id,
            kind: event.kind.as_str(),
        }
    }
}

/// An event on the operator's EventBridge bus: as webhooks get it, and
/// whose it is (the bus carries every tenant's).
#[derive(Serialize)]
pub struct BusEventView<'a> {
    #[serde(flatten)]
    event: EventView<'a>,
    tenant: &'a str,
}

impl<'a> BusEventView<'a> {
    pub fn of(event: &'a Event) -> BusEventView<'a> {
        BusEventView {
            event: EventView::of(event),
            tenant: event.tenant.as_str(),
        }
    }
}

/// `coupon.deleted`'s data.
#[derive(Serialize)]
pub struct DeletedCouponView<'a> {
    code: &'a str,
    coupon_created_at: String,
    deleted_at: String,
}

impl<'a> DeletedCouponView<'a> {
    pub fn of(code: &'a CouponCode, created_at: DateTime<Utc>, deleted_at: DateTime<Utc>) -> Self {
        DeletedCouponView {
            code: code.as_str(),
            coupon_created_at: dates::format(created_at),
            deleted_at: dates::format(deleted_at),
        }
    }
}

/// `coupon.exhausted`'s data: the coupon and the use that took its last.
#[derive(Serialize)]
pub struct ExhaustedCouponView<'a> {
    code: &'a str,
    coupon_created_at: String,
    redemption_id: &'a str,
}

impl<'a> ExhaustedCouponView<'a> {
    pub fn of(code: &'a CouponCode, created_at: DateTime<Utc>, redemption_id: &'a str) -> Self {
        ExhaustedCouponView {
            code: code.as_str(),
            coupon_created_at: dates::format(created_at),
            redemption_id,
        }
    }
}

/// `export.completed`'s data: the file's S3 key, not a link (a link would
/// expire; `GET /exports` makes a fresh one).
#[derive(Serialize)]
pub struct WrittenExportView<'a> {
    created_at: String,
    from: String,
    key: &'a str,
    object: &'static str,
    rows: u64,
    to: String,
}

impl<'a> WrittenExportView<'a> {
    pub fn of(record: &'a ExportRecord) -> WrittenExportView<'a> {
        WrittenExportView {
            created_at: dates::format(record.created_at),
            from: dates::format(record.from),
            key: &record.key,
            object: "export",
            rows: record.rows,
            to: dates::format(record.to),
        }
    }
}

/// A webhook; its secret only in the answers that make one
/// ([`WebhookSecretView`]).
#[derive(Serialize)]
pub struct WebhookView<'a> {
    created_at: String,
    description: Option<&'a str>,
    disabled_at: Option<String>,
    disabled_reason: Option<&'a str>,
    events: Vec<&'static str>,
    failing_since: Option<String>,
    id: &'a str,
    object: &'static str,
    status: &'static str,
    url: &'a str,
}

impl<'a> WebhookView<'a> {
    pub fn of(hook: &'a Webhook) -> WebhookView<'a> {
        WebhookView {
            created_at: dates::format(hook.created_at),
            description: hook.description.as_deref(),
            disabled_at: hook.disabled.as_ref().map(|d| dates::format(d.at)),
            disabled_reason: hook.disabled.as_ref().map(|d| d.reason.as_str()),
            events: hook.events.names(),
            failing_since: hook.failing_since.map(dates::format),
            id: hook.id.as_str(),
            object: "webhook",
            status: if hook.disabled.is_some() {
                "disabled"
            } else {
                "enabled"
            },
            url: &hook.url,
        }
    }
}

/// A webhook with its signing secret: the answer of `POST /webhooks` and
/// of a rotation, the only times the secret is shown.
#[derive(Serialize)]
pub struct WebhookSecretView<'a> {
    #[serde(flatten)]
    hook: WebhookView<'a>,
    /// Until when the secret before a rotation still signs beside this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<String>,
    secret: &'a str,
}

impl<'a> WebhookSecretView<'a> {
    pub fn of(hook: &'a Webhook) -> WebhookSecretView<'a> {
        WebhookSecretView {
            hook: WebhookView::of(hook),
            previous_secret_expires_at: hook
                .previous_secret
                .as_ref()
                .map(|(_, until)| dates::format(*until)),
            secret: hook.secret.expose(),
        }
    }
}

/// One delivery attempt.
#[derive(Serialize)]
pub struct DeliveryView<'a> {
    attempt: u32,
    attempted_at: String,
    delivered: bool,
    duration_ms: u64,
    error: Option<&'a str>,
    event_id: &'a str,
    event_type: &'a str,
    next_attempt_at: Option<String>,
    object: &'static str,
    status_code: Option<u16>,
}

impl<'a> DeliveryView<'a> {
    pub fn of(delivery: &'a Delivery) -> DeliveryView<'a> {
        DeliveryView {
            attempt: delivery.attempt,
            attempted_at: dates::format(delivery.attempted_at),
            delivered: delivery.delivered(),
            duration_ms: delivery.duration_ms,
            error: delivery.error.as_deref(),
            event_id: &delivery.event_id,
            event_type: &delivery.event_type,
            next_attempt_at: delivery.next_attempt_at.map(dates::format),
            object: "webhook_delivery",
            status_code: delivery.status_code,
        }
    }
}
