//! Events: what happened to a tenant's coupons, derived from the table's
//! stream (see `event_source`), put on the EventBridge bus and delivered to
//! the tenant's webhooks.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::invalid::Invalid;
use crate::stats::DayStats;
use crate::tenant::TenantId;

/// The kinds of event, by their `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    RedemptionSucceeded,
    RedemptionRolledBack,
    CouponExhausted,
    CouponCreated,
    CouponDeleted,
    JobCompleted,
    ExportCompleted,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::RedemptionSucceeded,
        EventType::RedemptionRolledBack,
        EventType::CouponExhausted,
        EventType::CouponCreated,
        EventType::CouponDeleted,
        EventType::JobCompleted,
        EventType::ExportCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RedemptionSucceeded => "redemption.succeeded",
            EventType::RedemptionRolledBack => "redemption.rolled_back",
            EventType::CouponExhausted => "coupon.exhausted",
            EventType::CouponCreated => "coupon.created",
            EventType::CouponDeleted => "coupon.deleted",
            EventType::JobCompleted => "job.completed",
            EventType::ExportCompleted => "export.completed",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// One event. Its `id` is a digest of the tenant, the type and the change
/// it reports (a redemption id, a job id, ...), so the same change read
/// twice from the stream is the same event: receivers drop the second.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    /// Whose event; never part of the payload (the receiver is that tenant).
    pub tenant: TenantId,
    pub kind: EventType,
    /// When the change happened (not when it was read from the stream).
    pub created_at: DateTime<Utc>,
    pub data: serde_json::Value,
    /// What a log row's event adds to its tenant's figures for the day of
    /// `created_at` (`GET /stats`); `None` for other events.
    pub stats: Option<DayStats>,
}

impl Event {
    /// `subject` names the change within the tenant and type.
    pub fn new(
        tenant: &TenantId,
        kind: EventType,
        subject: &str,
        created_at: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Event {
        let mut digest = Sha256::new();
        for part in [tenant.as_str(), kind.as_str(), subject] {
            digest.update(part.as_bytes());
            // A separator no part contains, so parts never run together.
            digest.update([0]);
        }
        Event {
            id: format!("evt_{}", &hex::encode(digest.finalize())[..32]),
            tenant: tenant.clone(),
            kind,
            created_at,
            data,
            stats: None,
        }
    }
}

/// Which events a webhook receives: every type (`["*"]`) or those listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Only(Vec<EventType>),
}

impl EventFilter {
    /// A list of types, or `["*"]`; at least one, no unknown type.
    pub fn parse(names: &[String]) -> Result<EventFilter, Invalid> {
        if names.is_empty() {
            return Err(Invalid(
                "events: name at least one event type, or \"*\" for all".into(),
            ));
        }
        if names.iter().any(|name| name == "*") {
            return match names.len() {
                1 => Ok(EventFilter::All),
                _ => Err(Invalid(
                    "events: \"*\" already means every type; send it alone".into(),
                )),
            };
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            let kind = EventType::parse(name).ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                Invalid(format!(
                    "events: unknown event type {name:?} (known: {})",
                    known.join(", ")
                ))
            })?;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        types.sort();
        Ok(EventFilter::Only(types))
    }

    pub fn includes(&self, kind: EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(types) => types.contains(&kind),
        }
    }

    /// The names as stored and shown.
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            EventFilter::All => vec!["*"],
            EventFilter::Only(types) => types.iter().map(|t| t.as_str()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_event_id_depends_on_tenant_type_and_subject_only() {
        let a = TenantId::parse("acme").unwrap();
        let b = TenantId::parse("bolt").unwrap();
        let at = crate::dates::now();
        let id = |t: &TenantId, kind, subject| {
            Event::new(t, kind, subject, at, serde_json::Value::Null).id
        };
        let first = id(&a, EventType::RedemptionSucceeded, "r1");
        let later = Event::new(&a, EventType::RedemptionSucceeded, "r1", at, 1.into());
        assert_eq!(first, later.id, "the same change is the same event");
        assert!(first.starts_with("evt_") && first.len() == 36);
        assert_ne!(first, id(&b, EventType::RedemptionSucceeded, "r1"));
        assert_ne!(first, id(&a, EventType::CouponExhausted, "r1"));
        assert_ne!(first, id(&a, EventType::RedemptionSucceeded, "r2"));
    }

    #[test]
    fn filters_take_known_types_or_the_star_alone() {
        assert_eq!(EventFilter::parse(&names(&["*"])), Ok(EventFilter::All));
        let some = EventFilter::parse(&names(&[
            "job.completed",
            "redemption.succeeded",
            "job.completed",
        ]))
        .unwrap();
        assert_eq!(some.names(), ["redemption.succeeded", "job.completed"]);
        assert!(some.includes(EventType::JobCompleted));
        assert!(!some.includes(EventType::CouponCreated));
        for bad in [&[][..], &["*", "job.completed"], &["coupon.redeemed"]] {
            let error = EventFilter::parse(&names(bad)).unwrap_err();
            assert!(error.0.starts_with("events: "), "{error}");
        }
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
    }
}
