//! Token buckets in DynamoDB hold across concurrent requests; guessing codes
//! gets a client cut off without touching other tenants.

use std::time::{Duration, Instant};

use common::limiter::Rule;
use common::limits::GuessingPolicy;
use common::store::TenantStore;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_40_gets_the_bucket_then_429_until_it_refills() {
    let t = TestApp::with(Options {
        rate: (5, 5),
        ..Options::default()
    })
    .await;
    // Warm the token cache, then let the bucket fill up again.
    assert_eq!(
        t.send(get("/coupon?limit=1").token(&t.token_a))
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let started = Instant::now();
    let requests = (0..40).map(|_| t.send(get("/coupon?limit=1").token(&t.token_a)));
    let responses = join_all(requests).await;
    let elapsed = started.elapsed();

    let ok = responses.iter().filter(|r| r.status == 200).count();
    // GCRA's bound: the burst, plus one token per 200 ms the 40 requests took
    // (moto handles one request at a time, so they take a while).
    let refills = (elapsed.as_millis() / 200) as usize;
    assert!(
        ok >= 5 && ok <= 5 + refills,
        "{ok} of 40 through a 5/s bucket of 5 in {elapsed:?}"
    );
    if elapsed < Duration::from_millis(400) {
        assert!((5..=7).contains(&ok), "{ok} of 40 in {elapsed:?}");
    }
    let limited: Vec<_> = responses.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok + limited.len(), 40);
    let mut wait = 0;
    for response in &limited {
        response.assert_problem(429, "rate_limited");
        let retry_after: u64 = response.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
        assert_eq!(response.header("ratelimit-remaining"), Some("0"));
        wait = wait.max(retry_after);
    }
    for response in responses.iter().filter(|r| r.status == 200) {
        assert_eq!(response.header("ratelimit-limit"), Some("5"));
        assert!(
            response.header("ratelimit-remaining").is_some()
                && response.header("ratelimit-reset").is_some()
        );
    }
    eprintln!("rate test: {ok} of 40 allowed in {elapsed:?}");

    tokio::time::sleep(Duration::from_secs(wait)).await;
    let again = t.send(get("/coupon?limit=1").token(&t.token_a)).await;
    again.expect(200);
    // The other tenant has its own bucket.
    assert_eq!(
        t.send(get("/coupon?limit=1").token(&t.token_b))
            .await
            .status,
        200
    );
}

/// An app whose tenants may miss `per_tenant` codes, and each client
/// `per_client`, before a ten-minute cool-down (no refill meanwhile).
async fn guessing_app(per_tenant: u32, per_client: u32) -> TestApp {
    let slow = Duration::from_secs(600);
    let guessing = GuessingPolicy {
        per_tenant: Rule::every(slow, per_tenant),
        per_client: Rule::every(slow, per_client),
        cooldown: slow,
    };
    TestApp::with(Options {
        guessing,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn guessing_codes_cuts_the_client_off_for_the_cooldown() {
    let t = guessing_app(1_000, 10).await;
    let real = t.create_coupon(json!({"availability_count": 5})).await;

    let mut statuses = Vec::new();
    for i in 0..200 {
        let guess = format!("/coupon/consume?code=GUESS{i:04}");
        statuses.push(t.send(get(&guess).token(&t.token_a)).await.status);
    }
    assert!(statuses[..10].iter().all(|&s| s == 404), "{statuses:?}");
    assert!(
        statuses[10..].iter().all(|&s| s == 429),
        "cut off after 10 failures: {statuses:?}"
    );

    // During the cool-down even a real code is refused, on every lookup route...
    for lookup in [
        get(&format!("/coupon/consume?code={real}")),
        post(&format!("/coupon/consume?code={real}")),
        get(&format!("/coupon?code={real}")),
    ] {
        let refused = t.send(lookup.token(&t.token_a)).await;
        refused.assert_problem(429, "rate_limited");
        assert!(
            refused
                .header("retry-after")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 500
        );
    }
    // ...but other routes still work, and so does another client of the tenant.
    assert_eq!(t.send(get("/coupon").token(&t.token_a)).await.status, 200);
    let elsewhere = get(&format!("/coupon/consume?code={real}"))
        .token(&t.token_a)
        .source_ip("192.0.2.7");
    assert_eq!(t.send(elsewhere).await.status, 200);
    // Another tenant is never affected.
    assert_eq!(
        t.send(get("/coupon/consume?code=GUESS0000").token(&t.token_b))
            .await
            .status,
        404
    );
    let coupon_b = t
        .send(post("/coupon").token(&t.token_b).json(json!({})))
        .await
        .json();
    let code_b = coupon_b["code"].as_str().unwrap();
    assert_eq!(
        t.send(post(&format!("/coupon/consume?code={code_b}")).token(&t.token_b))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn many_clients_guessing_block_the_tenants_lookups_only() {
    let t = guessing_app(15, 10).await;
    let mut statuses = Vec::new();
    for i in 0..30 {
        // Every guess from a different address: only the tenant bucket sees them all.
        let guess = get(&format!("/coupon?code=GUESS{i:04}"))
            .token(&t.token_a)
            .source_ip(&format!("198.51.100.{i}"));
        statuses.push(t.send(guess).await.status);
    }
    assert!(statuses[..15].iter().all(|&s| s == 404), "{statuses:?}");
    assert!(statuses[15..].iter().all(|&s| s == 429), "{statuses:?}");
    assert_eq!(
        t.send(get("/coupon?code=GUESS0000").token(&t.token_b))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn without_its_limiter_create_fails_closed_and_checkout_stays_open() {
    let buckets = format!("buckets-{}", uuid::Uuid::new_v4());
    let t = TestApp::with(Options {
        buckets_table: Some(buckets.clone()),
        ..Options::default()
    })
    .await;
    let code = t.create_coupon(json!({"availability_count": 5})).await;

    // The limiter's table goes away: every bucket write now fails.
    t.client
        .delete_table()
        .table_name(&buckets)
        .send()
        .await
        .unwrap();

    let create = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"code": "FAILCLOSED"})),
        )
        .await;
    create.assert_problem(503, "unavailable");
    assert!(create.header("retry-after").is_some());

    let validate = t
        .send(get(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await;
    validate.expect(200);
    assert!(
        validate.header("ratelimit-limit").is_none(),
        "no bucket, no quota to report"
    );
    let consume = t
        .send(post(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await;
    consume.expect(200);
    assert_eq!(
        t.send(get("/coupon?code=FAILCLOSED").token(&t.token_a))
            .await
            .status,
        404,
        "nothing was created"
    );
}

#[tokio::test]
async fn a_changed_rate_applies_once_the_token_cache_expires() {
    let auth = common::auth::Authenticator::with_ttl(Duration::from_millis(200));
    let t = TestApp::with(Options {
        auth,
        ..Options::default()
    })
    .await;
    assert_eq!(t.send(get("/coupon").token(&t.token_a)).await.status, 200);

    let updated = t
        .app()
        .store
        .update_tenant_limits(&t.tenant_a, 1, 1)
        .await
        .unwrap();
    assert_eq!((updated.rate_per_second, updated.burst), (1, 1));
    tokio::time::sleep(Duration::from_millis(250)).await;

    let first = t.send(get("/coupon").token(&t.token_a)).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("ratelimit-limit"), Some("1"));
    t.send(get("/coupon").token(&t.token_a))
        .await
        .assert_problem(429, "rate_limited");
}
