//! Integration tests: the real handlers, called in-process, against a local
//! moto server. Each test gets its own table.

mod api_gateway;
mod auth;
mod campaign_jobs;
mod campaigns;
// The cost model lives with the other benchmarks; it runs in this binary
// for its helpers (its two size and unit checks run in `make test`).
#[path = "../../bench/capacity.rs"]
mod capacity;
mod concurrency;
mod console;
mod coupons;
mod daily_export;
mod event_stream;
mod events;
mod exports;
mod faults;
mod flash_sale;
mod helpers;
mod iam;
mod jobs;
mod keyspace;
mod ledger;
mod limiter_cost;
mod malformed;
mod metadata;
mod model;
mod money_path;
mod observability;
mod personal;
mod pipeline;
mod printed_export;
mod rate_limits;
mod request_counts;
mod seed;
mod stats;
mod template;
mod tenancy;
mod validate_consume;
mod webhooks;
