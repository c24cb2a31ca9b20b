//! Webhooks: where a tenant's events are delivered, and how deliveries are
//! signed (the Standard Webhooks specification, standardwebhooks.com).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::config::{SettingError, env_value};
use crate::event::{EventFilter, EventType};
use crate::invalid::Invalid;

/// How many webhooks one tenant may have (Stripe allows 16 endpoints).
pub const MAX_WEBHOOKS: u32 = 16;
/// A rotated secret keeps signing beside the new one this long, so a
/// receiver can switch over without refusing a delivery.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::from_secs(24 * 3600);
/// A receiver that has refused every delivery this long gets its webhook
/// disabled.
pub const DISABLE_AFTER_FAILING: Duration = Duration::from_secs(24 * 3600);

/// `wh_` and 24 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebhookId(String);

impl WebhookId {
    pub fn generate() -> WebhookId {
        WebhookId(format!("wh_{}", crate::tenant::random_hex(12)))
    }

    pub fn parse(text: &str) -> Option<WebhookId> {
        let hex = text.strip_prefix("wh_")?;
        (hex.len() == 24
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| WebhookId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signing secret: `whsec_` and the base64 of 32 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub fn generate() -> WebhookSecret {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        WebhookSecret(format!("whsec_{}", BASE64.encode(key)))
    }

    /// A stored secret; `None` if it is not one of ours.
    pub fn parse(text: &str) -> Option<WebhookSecret> {
        let key = BASE64.decode(text.strip_prefix("whsec_")?).ok()?;
        (key.len() == 32).then(|| WebhookSecret(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    fn key(&self) -> Vec<u8> {
        BASE64
            .decode(&self.0["whsec_".len()..])
            .expect("a secret is checked when made or read")
    }

    /// `v1,` and the base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key()).expect("HMAC takes a key of any length");
        mac.update(format!("{message_id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[&WebhookSecret],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| secret.sign(message_id, timestamp, body))
        .collect();
    signatures.join(" ")
}

/// A registered webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub url: String,
    pub events: EventFilter,
    pub description: Option<String>,
    pub secret: WebhookSecret,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<(WebhookSecret, DateTime<Utc>)>,
    pub created_at: DateTime<Utc>,
    /// Since when every delivery failed (cleared by a delivered one).
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled: Option<Disabled>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disabled {
    pub at: DateTime<Utc>,
    pub reason: String,
}

impl Webhook {
    /// Whether an event of this type goes to this webhook now.
    pub fn wants(&self, kind: EventType) -> bool {
        self.disabled.is_none() && self.events.includes(kind)
    }

    /// The secrets a delivery at `now` is signed with.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&WebhookSecret> {
        let mut secrets = vec![&self.secret];
        if let Some((previous, until)) = &self.previous_secret
            && *until > now
        {
            secrets.push(previous);
        }
        secrets
    }
}

/// A webhook's description: up to 500 characters.
pub fn parse_description(text: Option<String>) -> Result<Option<String>, Invalid> {
    match text {
        Some(text) if text.chars().count() > 500 => {
            Err(Invalid("description: at most 500 characters".into()))
        }
        Some(text) if text.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// When a failed delivery is tried again: the n-th retry waits the n-th
/// step (`WEBHOOK_RETRY_SCHEDULE`, seconds, comma-separated). The default is
/// Standard Webhooks' example schedule, 5 s to 10 h, about 27 hours in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl RetrySchedule {
    pub const DEFAULT: &str = "5,300,1800,7200,18000,36000,36000";

    pub fn from_env() -> Result<RetrySchedule, SettingError> {
        let text = env_value("WEBHOOK_RETRY_SCHEDULE").unwrap_or_else(|| Self::DEFAULT.into());
        RetrySchedule::parse(&text).ok_or(SettingError::Invalid {
            name: "WEBHOOK_RETRY_SCHEDULE",
            value: text,
            expected: "seconds between attempts, comma-separated, each 0 to 43200 (SQS's longest visibility)",
        })
    }

    pub fn parse(text: &str) -> Option<RetrySchedule> {
        let steps = text
            .split(',')
            .map(|step| step.trim().parse::<u64>().ok().filter(|s| *s <= 43_200))
            .collect::<Option<Vec<u64>>>()?;
        Some(RetrySchedule(
            steps.into_iter().map(Duration::from_secs).collect(),
        ))
    }

    /// The wait after the `attempt`-th failed attempt (1-based), or `None`
    /// when that was the last.
    pub fn after(&self, attempt: u32) -> Option<Duration> {
        self.0.get(attempt.checked_sub(1)? as usize).copied()
    }

    pub fn attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }
}

/// A message of the webhook queue: one event for one webhook, its body as
/// it is signed and sent (the same bytes at every attempt).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeliveryMessage {
    pub tenant: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
}

/// One attempt at delivering an event to a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    pub duration_ms: u64,
    /// When the next attempt is due; `None` when delivered or given up.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Delivery {
    pub fn delivered(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the specification (and of the Svix libraries it
        // came from); its key is 24 bytes, ours are 32: the arithmetic is
        // the same.
        let secret = WebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_32_random_bytes_and_never_printed() {
        let secret = WebhookSecret::generate();
        assert!(WebhookSecret::parse(secret.expose()).is_some());
        assert_ne!(secret, WebhookSecret::generate());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_none());
        assert!(WebhookSecret::parse("sec_x").is_none());
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_new_one_until_its_grace_ends() {
        let now = crate::dates::now();
        let (old, new) = (WebhookSecret::generate(), WebhookSecret::generate());
        let mut hook = Webhook {
            id: WebhookId::generate(),
            url: "https://example.com/hook".into(),
            events: EventFilter::All,
            description: None,
            secret: new.clone(),
            previous_secret: Some((old.clone(), now + chrono::Duration::hours(1))),
            created_at: now,
            failing_since: None,
            disabled: None,
        };
        assert_eq!(hook.signing_secrets(now), [&new, &old]);
        let header = signature_header(&hook.signing_secrets(now), "evt_1", 5, "{}");
        assert_eq!(
            header,
            format!(
                "{} {}",
                new.sign("evt_1", 5, "{}"),
                old.sign("evt_1", 5, "{}")
            )
        );
        hook.previous_secret = Some((old, now));
        assert_eq!(hook.signing_secrets(now), [&new]);
    }

    #[test]
    fn the_retry_schedule_counts_attempts() {
        let schedule = RetrySchedule::parse(RetrySchedule::DEFAULT).unwrap();
        assert_eq!(schedule.attempts(), 8);
        assert_eq!(schedule.after(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.after(7), Some(Duration::from_secs(36_000)));
        assert_eq!(schedule.after(8), None);
        assert_eq!(schedule.after(0), None);
        assert!(RetrySchedule::parse("1,x").is_none());
        assert!(RetrySchedule::parse("50000").is_none());
        assert!(WebhookId::parse(WebhookId::generate().as_str()).is_some());
        assert!(WebhookId::parse("wh_ABC").is_none());
    }
}
