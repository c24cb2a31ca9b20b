//! The one error type handlers return, and its RFC 9457 problem+json form.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::invalid::Invalid;
use crate::refusal::Refusal;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or query could not be read at all (bad JSON, bad encoding).
    #[error("{0}")]
    Malformed(String),
    /// The request was readable but a field is missing, unknown or out of range.
    #[error("{0}")]
    Invalid(String),
    #[error("missing or invalid token")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    /// The path exists, the method does not; `allow` lists the methods it has
    /// (the `Allow` header RFC 9110 requires on a 405).
    #[error("method not allowed; this path takes {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    AlreadyExists(String),
    /// An `Idempotency-Key` reused with different parameters.
    #[error("this Idempotency-Key was used with different parameters")]
    IdempotencyKeyReused,
    #[error("{}", .0.detail())]
    Refused(Refusal),
    /// Over the tenant's rate, or paused for guessing codes.
    #[error("{detail}")]
    RateLimited { retry_after: u64, detail: String },
    /// A campaign with codes; they go first.
    #[error("the campaign still has {count} codes; delete them first")]
    CampaignNotEmpty { count: u64 },
    /// A campaign whose codes are all assigned to customers.
    #[error("campaign {campaign} has no unassigned code left")]
    PoolEmpty { campaign: String },
    /// The tenant has `max` bulk generation jobs not finished yet.
    #[error("this tenant has {max} bulk generation jobs not finished yet; wait for one to finish")]
    TooManyJobs { max: u32 },
    /// The tenant has `max` webhooks, the most it may have.
    #[error("this tenant has {max} webhooks, the most it may have; delete one first")]
    TooManyWebhooks { max: u32 },
    /// A dependency (DynamoDB) failed, throttled or did not answer.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the service itself (a stored item it cannot read): logged
    /// with the item's key, and not one a retry mends.
    #[error("the service failed to read its own data; the fault is logged")]
    Internal,
}

/// Seconds a client should wait before retrying after a dependency failure.
const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 1;

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::AlreadyExists(_)
            | ApiError::Refused(_)
            | ApiError::TooManyJobs { .. }
            | ApiError::TooManyWebhooks { .. }
            | ApiError::CampaignNotEmpty { .. }
            | ApiError::PoolEmpty { .. } => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) | ApiError::Invalid(_) => "invalid_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::AlreadyExists(_) => "already_exists",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::TooManyJobs { .. } => "too_many_jobs",
            ApiError::TooManyWebhooks { .. } => "too_many_webhooks",
            ApiError::CampaignNotEmpty { .. } => "campaign_not_empty",
            ApiError::PoolEmpty { .. } => "pool_empty",
            ApiError::Refused(refusal) => refusal.code(),
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal => "internal_error",
        }
    }

    pub fn to_response(&self) -> Response<Body> {
        let status = self.status();
        let problem = Problem {
            kind: format!("https://coupon-service.dev/problems/{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = Response::new(Body::Binary(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER_SECS.into());
            }
            ApiError::RateLimited { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, (*retry_after).into());
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        response
    }
}

#[derive(Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    code: &'static str,
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError::Invalid(e.0)
    }
}

/// A webhook URL the SSRF rules refuse: the client's to fix.
impl From<crate::ssrf::UnsafeTarget> for ApiError {
    fn from(e: crate::ssrf::UnsafeTarget) -> ApiError {
        ApiError::Invalid(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable(_) => {
                // Details of the dependency failure go to the log, not the client.
                tracing::warn!(error = %e, "store unavailable");
                ApiError::Unavailable(
                    "a dependency failed; nothing was changed, retry later".into(),
                )
            }
            StoreError::OutcomeUnknown(_) => {
                tracing::warn!(error = %e, "write outcome unknown");
                ApiError::Unavailable(
                    "a dependency did not answer in time, so whether the change was made is \
                     unknown; retrying a consume with the same Idempotency-Key is safe, \
                     otherwise read the resource before retrying"
                        .into(),
                )
            }
            StoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "stored item unreadable");
                ApiError::Internal
            }
            StoreError::AlreadyExists => {
                ApiError::AlreadyExists("that coupon code already exists".into())
            }
            StoreError::NotFound(missing) => {
                ApiError::NotFound(format!("no such {}", missing.noun()))
            }
            StoreError::Refused(refusal) => ApiError::Refused(refusal),
            StoreError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            StoreError::TooManyJobs(max) => ApiError::TooManyJobs { max },
            StoreError::TooManyWebhooks(max) => ApiError::TooManyWebhooks { max },
            StoreError::Invalid(invalid) => invalid.into(),
            StoreError::CampaignNotEmpty(count) => ApiError::CampaignNotEmpty { count },
            StoreError::PoolEmpty(campaign) => ApiError::PoolEmpty {
                campaign: campaign.to_string(),
            },
            StoreError::BudgetBelowSpent { .. } => ApiError::Invalid(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let response = ApiError::MethodNotAllowed { allow: "GET, POST" }.to_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "GET, POST");
    }
}
