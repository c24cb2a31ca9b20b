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

/// An app whose tenants may miss `per_tenant` codes before they are under
/// pressure, each identity `per_identity` (`under_pressure` while its
/// tenant is), before a ten-minute cool-down (no refill meanwhile).
pub(crate) async fn guessing_app(
    per_tenant: u32,
    per_identity: u32,
    under_pressure: u32,
) -> TestApp {
    let slow = Duration::from_secs(600);
    let guessing = GuessingPolicy {
        per_tenant: Rule::every(slow, per_tenant),
        per_identity: Rule::every(slow, per_identity),
        under_pressure: Rule::every(slow, under_pressure),
        cooldown: slow,
    };
    TestApp::with(Options {
        guessing,
        ..Options::default()
    })
    .await
}

fn retry_after(response: &TestResponse) -> u64 {
    response.header("retry-after").unwrap().parse().unwrap()
}

#[tokio::test]
async fn guessing_codes_cuts_the_client_off_for_the_cooldown() {
    let t = guessing_app(1_000, 10, 10).await;
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

    // During the cool-down even a real code is refused, on every lookup
    // route, to requests without customer_id from that address...
    for lookup in [
        get(&format!("/coupon/consume?code={real}")),
        post(&format!("/coupon/consume?code={real}")),
        get(&format!("/coupon?code={real}")),
        post(&format!("/coupon/reserve?code={real}")),
    ] {
        let refused = t.send(lookup.token(&t.token_a)).await;
        refused.assert_problem(429, "rate_limited");
        assert!(retry_after(&refused) > 500);
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
async fn one_customer_guessing_is_cut_off_and_the_shops_other_customers_are_not() {
    let t = guessing_app(1_000, 10, 10).await;
    let real = t.create_coupon(json!({"availability_count": 5})).await;
    // Every request comes from the shop's backend, one address; the body
    // names the customer.
    let lookup = |code: &str, customer: Option<&str>| {
        let mut body = json!({"code": code});
        if let Some(customer) = customer {
            body["customer_id"] = json!(customer);
        }
        post("/coupon/consume").token(&t.token_a).json(body)
    };
    for i in 0..10 {
        t.send(lookup(&format!("GUESS{i:04}"), Some("mallory")))
            .await
            .assert_problem(404, "not_found");
    }
    // Mallory is cut off, real codes and reservations included...
    for refused in [
        t.send(lookup(&real, Some("mallory"))).await,
        t.send(get(&format!("/coupon/consume?code={real}&customer_id=mallory")).token(&t.token_a))
            .await,
        t.send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": real, "customer_id": "mallory"})),
        )
        .await,
    ] {
        refused.assert_problem(429, "rate_limited");
        assert!(retry_after(&refused) > 500);
    }
    // ...while the other customers of the same backend check out, and so
    // do its requests that name no customer.
    t.send(lookup(&real, Some("alice"))).await.expect(200);
    t.send(lookup(&real, None)).await.expect(200);
}

#[tokio::test]
async fn reserving_an_unknown_code_counts_as_a_miss() {
    let t = guessing_app(1_000, 3, 3).await;
    let real = t.create_coupon(json!({"availability_count": 5})).await;
    for i in 0..3 {
        t.send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": format!("GUESS{i:04}"), "customer_id": "mallory"})),
        )
        .await
        .assert_problem(404, "not_found");
    }
    t.send(
        post("/coupon/reserve")
            .token(&t.token_a)
            .json(json!({"code": real, "customer_id": "mallory"})),
    )
    .await
    .assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn many_identities_guessing_tighten_every_budget_but_checkout_goes_on() {
    let t = guessing_app(15, 10, 2).await;
    let real = t.create_coupon(json!({"availability_count": 100})).await;
    let captured = crate::observability::Captured::default();
    let _capture = common::telemetry::scoped_with_writer({
        let captured = captured.clone();
        move || captured.clone()
    });
    let guess = |i: usize, customer: &str| {
        post("/coupon/consume")
            .token(&t.token_a)
            .json(json!({"code": format!("GUESS{i:04}"), "customer_id": customer}))
    };
    // Fifteen identities each miss once: the tenant's budget is spent.
    for i in 0..15 {
        t.send(guess(i, &format!("bot-{i}")))
            .await
            .assert_problem(404, "not_found");
    }
    // From now on every identity gets two misses, not ten...
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for i in 0..4 {
            statuses.push(t.send(guess(100 + i, "bot-new")).await.status);
        }
        statuses
    };
    assert_eq!(statuses, [404, 404, 429, 429]);
    // Each miss under pressure counts in the metric the template's alarm watches.
    let pressure = captured
        .json_lines()
        .iter()
        .filter(|line| line["GuessingPressure"] == 1)
        .count();
    assert_eq!(
        pressure, 3,
        "the 15th miss spent the tenant's budget, then bot-new's two"
    );
    // ...and a customer with no misses checks out with a real code.
    t.send(
        post("/coupon/consume")
            .token(&t.token_a)
            .json(json!({"code": real, "customer_id": "alice"})),
    )
    .await
    .expect(200);
    // Other tenants never notice.
    assert_eq!(
        t.send(get("/coupon/consume?code=GUESS0000").token(&t.token_b))
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
