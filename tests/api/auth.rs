//! Token authentication.

use std::time::{Duration, Instant};

use chrono::Utc;
use common::auth::{Authenticator, TOKEN_CACHE_TTL};
use common::store::{DynamoStore, TenantStore};
use common::tenant::token_hash;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn ping_needs_no_token_and_everything_else_does() {
    let t = TestApp::new().await;
    let ping = t.send(get("/ping")).await;
    assert_eq!(ping.status, 200);
    assert!(ping.header("x-request-id").is_some());

    for request in [
        get("/coupon"),
        get("/coupon?code=X"),
        post("/coupon/consume?code=X"),
    ] {
        t.send(request).await.assert_problem(401, "unauthorized");
    }
    for bad in ["Bearer nope", "Basic dXNlcjpwdw==", "Bearer ", "cms_0000"] {
        t.send(get("/coupon").header("authorization", bad))
            .await
            .assert_problem(401, "unauthorized");
    }
    // The bare form of the original API and the Bearer form both work.
    assert_eq!(
        t.send(get("/coupon").header("authorization", &t.token_a))
            .await
            .status,
        200
    );
    assert_eq!(t.send(get("/coupon").token(&t.token_a)).await.status, 200);
}

/// No item anywhere in the table holds either tenant's clear token (nor its
/// part after the `cms_` prefix), and each token is there as its SHA-256.
pub async fn assert_no_clear_tokens(t: &TestApp) {
    let items = t.all_items().await;
    let dump = format!("{items:?}");
    for token in [&t.token_a, &t.token_b] {
        let secret_part = token.trim_start_matches("cms_");
        assert!(
            !dump.contains(secret_part),
            "a clear token is stored in the table ({} items)",
            items.len()
        );
        let hash = token_hash(token);
        assert!(
            items.iter().any(|item| {
                item.get("type")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some("token")
                    && item
                        .get("PK")
                        .and_then(|v| v.as_s().ok())
                        .is_some_and(|pk| pk.contains(&hash))
            }),
            "the token is kept as its SHA-256"
        );
    }
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let t = TestApp::new().await;
    assert_no_clear_tokens(&t).await;
}

/// After a realistic run (coupons, consumes with idempotency keys, a
/// reservation, a rollback, a bulk job, an export, refused requests with
/// wrong and mistyped tokens) the table still holds no clear token.
#[tokio::test]
async fn no_clear_token_is_stored_after_a_realistic_run() {
    let t = TestApp::new().await;
    for token in [&t.token_a, &t.token_b] {
        let created = t
            .send(
                post("/coupon")
                    .token(token)
                    .json(json!({"availability_count": 3})),
            )
            .await;
        let code = created.expect(201).string("code");
        let consumed = t
            .send(
                post(&format!("/coupon/consume?code={code}"))
                    .token(token)
                    .header("idempotency-key", "order-1"),
            )
            .await;
        let id = consumed.expect(200).string("redemption_id");
        let held = t
            .send(post(&format!("/coupon/reserve?code={code}")).token(token))
            .await;
        held.expect(201);
        let rolled_back = t
            .send(post(&format!("/coupon/consume/{id}/rollback")).token(token))
            .await;
        rolled_back.expect(200);
        // A mistyped token is refused and recorded nowhere.
        let typo = format!("{}x", token);
        t.send(get("/coupon").token(&typo))
            .await
            .assert_problem(401, "unauthorized");
    }
    t.start_job(json!({"quantity": 1_001})).await;
    assert_eq!(crate::exports::export_today(&t).await.status, 201);
    assert_no_clear_tokens(&t).await;
}

/// What the README and the CLI promise: a revoked token is refused by every
/// warm instance within 60 seconds.
#[test]
fn the_token_cache_lives_at_most_60_seconds() {
    assert!(
        TOKEN_CACHE_TTL <= Duration::from_secs(60),
        "{TOKEN_CACHE_TTL:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_once_the_cache_expires() {
    let ttl = Duration::from_millis(200);
    let t = TestApp::with(Options {
        auth: Authenticator::with_ttl(ttl),
        ..Options::default()
    })
    .await;
    assert_eq!(t.send(get("/coupon").token(&t.token_a)).await.status, 200);
    // The token went into the cache before this instant.
    let cached_by = Instant::now();

    let store: &DynamoStore = &t.app().store;
    let token_id = store.list_tokens(&t.tenant_a).await.unwrap()[0]
        .token_id
        .clone();
    store
        .revoke_token(&t.tenant_a, &token_id, Utc::now())
        .await
        .unwrap();

    // Any request that starts once the cache entry is older than the TTL is
    // refused; earlier ones may still be served from the cache. Polled until
    // one such request, so the bound holds however slow the machine is.
    loop {
        let started = Instant::now();
        let response = t.send(get("/coupon").token(&t.token_a)).await;
        if started > cached_by + ttl {
            assert_eq!(
                response.status,
                401,
                "a revoked token must be refused once the cache entry is {ttl:?} old \
                 (request started {:?} after caching)",
                started - cached_by
            );
            response.assert_problem(401, "unauthorized");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The other tenant is unaffected.
    let other = t.send(get("/coupon").token(&t.token_b)).await;
    assert_eq!(other.json()["data"], Value::Array(vec![]));
}
