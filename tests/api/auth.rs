//! Token authentication.

use std::time::Duration;

use chrono::Utc;
use common::auth::Authenticator;
use common::store::{DynamoStore, TenantStore};
use serde_json::Value;

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

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let t = TestApp::new().await;
    let items = t
        .client
        .scan()
        .table_name(&t.table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let dump = format!("{items:?}");
    assert!(!dump.contains(&t.token_a) && !dump.contains(&t.token_b));
    assert!(
        items
            .iter()
            .any(|item| item.get("type").and_then(|v| v.as_s().ok()) == Some(&"token".to_owned()))
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_once_the_cache_expires() {
    let t = TestApp::with(Options {
        auth: Authenticator::with_ttl(Duration::from_millis(200)),
        ..Options::default()
    })
    .await;
    assert_eq!(t.send(get("/coupon").token(&t.token_a)).await.status, 200);

    let store: &DynamoStore = &t.app().store;
    let token_id = store.list_tokens(&t.tenant_a).await.unwrap()[0]
        .token_id
        .clone();
    store
        .revoke_token(&t.tenant_a, &token_id, Utc::now())
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(250)).await;
    let refused = t.send(get("/coupon").token(&t.token_a)).await;
    refused.assert_problem(401, "unauthorized");
    // The other tenant is unaffected.
    let other = t.send(get("/coupon").token(&t.token_b)).await;
    assert_eq!(other.json()["data"], Value::Array(vec![]));
}
