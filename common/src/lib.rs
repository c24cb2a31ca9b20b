//! Everything the coupon functions share: domain types that parse and
//! validate, the DynamoDB store, authentication, and the HTTP frame.

pub mod admin;
pub mod app;
pub mod auth;
pub mod cache;
pub mod campaign;
pub mod campaign_codes;
pub mod code;
pub mod config;
pub mod coupon;
pub mod dates;
pub mod error;
pub mod event;
pub mod event_source;
pub mod export;
pub mod http;
pub mod idempotency;
pub mod invalid;
pub mod job;
pub mod keyspace;
pub mod ledger;
pub mod limiter;
pub mod limits;
pub mod metadata;
pub mod money;
pub mod offer;
pub mod pattern;
pub mod queue;
pub mod redemption;
pub mod refusal;
pub mod request;
pub mod routes;
pub mod ssrf;
pub mod stats;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod terms;
pub mod views;
pub mod webhook;

pub use app::App;
pub use error::ApiError;
