//! Checkout features: idempotent consume, rollback, reservations,
//! per-customer limits and order pricing, each under concurrency where it
//! matters.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

async fn details(t: &TestApp, code: &str) -> serde_json::Value {
    let response = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await;
    response.expect(200);
    response.json()
}

fn consume(t: &TestApp, body: serde_json::Value) -> RequestBuilder {
    post("/coupon/consume").token(&t.token_a).json(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_with_ten_idempotency_keys_consume_ten_uses() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 100})).await;

    let requests = (0..200).map(|i| {
        let key = format!("order-{}", i % 10);
        let t = &t;
        let code = code.clone();
        async move {
            let response = t
                .send(consume(t, json!({"code": code})).header("Idempotency-Key", &key))
                .await;
            (key, response)
        }
    });
    let responses = join_all(requests).await;

    let mut by_key: BTreeMap<String, BTreeSet<(u16, String)>> = BTreeMap::new();
    for (key, response) in &responses {
        by_key
            .entry(key.clone())
            .or_default()
            .insert((response.status, response.text()));
    }
    assert_eq!(by_key.len(), 10);
    for (key, answers) in &by_key {
        assert_eq!(answers.len(), 1, "{key} got different answers: {answers:?}");
        assert_eq!(answers.iter().next().unwrap().0, 200);
    }
    let replays = responses
        .iter()
        .filter(|(_, r)| r.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(
        replays, 190,
        "all but the first request per key are replays"
    );

    let coupon = details(&t, &code).await;
    assert_eq!(coupon["availability_count"], 90);
    assert_eq!(coupon["redeemed_count"], 10);
    assert_eq!(t.redemption_rows(Utc::now()).await.len(), 10);

    // The same key with other parameters is a client bug, not a replay.
    let reused = t
        .send(
            consume(&t, json!({"code": code, "product_id": "other"}))
                .header("Idempotency-Key", "order-3"),
        )
        .await;
    reused.assert_problem(422, "idempotency_key_reused");
    // A key that succeeded is replayed even once the coupon has no uses left.
    let last = t.create_coupon(json!({"availability_count": 1})).await;
    let first = t
        .send(consume(&t, json!({"code": last})).header("Idempotency-Key", "k-last"))
        .await;
    let again = t
        .send(consume(&t, json!({"code": last})).header("Idempotency-Key", "k-last"))
        .await;
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.body, again.body);
    t.send(consume(&t, json!({"code": last})))
        .await
        .assert_problem(409, "exhausted");
}

#[tokio::test]
async fn a_rollback_returns_the_use_once_and_logs_a_reversal() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(json!({"availability_count": 3, "discount_percent": "10"}))
        .await;
    let consumed = t
        .send(consume(&t, json!({"code": code, "order_amount": "80.00"})))
        .await;
    let id = consumed.expect(200).string("redemption_id");
    assert_eq!(details(&t, &code).await["availability_count"], 2);

    let path = format!("/coupon/consume/{id}/rollback");
    let (first, second) = tokio::join!(
        t.send(post(&path).token(&t.token_a)),
        t.send(post(&path).token(&t.token_a)),
    );
    let (ok, refused) = if first.status == 200 {
        (first, second)
    } else {
        (second, first)
    };
    ok.expect(200);
    refused.assert_problem(409, "already_rolled_back");
    let reversal = ok.json();
    assert_eq!(reversal["object"], "reversal");
    assert_eq!(reversal["reverses"], id.as_str());
    assert_eq!(reversal["use_returned"], true);
    assert_eq!(reversal["pricing"]["discount_amount"], "8.00");

    let coupon = details(&t, &code).await;
    assert_eq!(coupon["availability_count"], 3);
    assert_eq!(coupon["redeemed_count"], 0);
    let rows = t.redemption_rows(Utc::now()).await;
    let kinds: BTreeSet<_> = rows
        .iter()
        .map(|r| r["kind"].as_s().unwrap().clone())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        kinds,
        BTreeSet::from(["consume".to_owned(), "reversal".to_owned()])
    );

    // Unknown ids and other tenants' ids are not found.
    t.send(post(&path).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
    t.send(post("/coupon/consume/not-an-id/rollback").token(&t.token_a))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_deleted_coupon_keeps_its_log_and_a_rollback_still_logs_the_reversal() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 2})).await;
    let consumed = t.send(consume(&t, json!({"code": code}))).await;
    let id = consumed.string("redemption_id");
    let deleted = t
        .send(delete(&format!("/coupon/{code}")).token(&t.token_a))
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(t.redemption_rows(Utc::now()).await.len(), 1);

    let reversal = t
        .send(post(&format!("/coupon/consume/{id}/rollback")).token(&t.token_a))
        .await;
    reversal.expect(200);
    assert_eq!(reversal.json()["use_returned"], false);
    assert_eq!(t.redemption_rows(Utc::now()).await.len(), 2);
    // A new coupon under the same code does not get the old coupon's use.
    let again = t
        .create_coupon(json!({"code": code, "availability_count": 1}))
        .await;
    assert_eq!(details(&t, &again).await["availability_count"], 1);
}

#[tokio::test]
async fn a_reservation_holds_the_last_use_until_it_expires() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 1})).await;

    let held = t
        .send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": code, "customer_id": "alice", "ttl_seconds": 1})),
        )
        .await;
    let reservation = held.expect(201).string("reservation_id");
    assert_eq!(held.json()["status"], "held");
    assert_eq!(held.json()["availability_count"], 0);

    // B cannot take the held use.
    t.send(consume(&t, json!({"code": code, "customer_id": "bob"})))
        .await
        .assert_problem(409, "exhausted");

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // After the hold expires its use comes back, and B gets it.
    let bob = t
        .send(consume(&t, json!({"code": code, "customer_id": "bob"})))
        .await;
    bob.expect(200);
    // A's late checkout with the expired reservation is refused.
    t.send(consume(
        &t,
        json!({"code": code, "reservation_id": reservation}),
    ))
    .await
    .assert_problem(409, "reservation_expired");

    let coupon = details(&t, &code).await;
    assert_eq!(coupon["availability_count"], 0);
    assert_eq!(coupon["redeemed_count"], 1);
    let shown = t
        .send(get(&format!("/coupon/reserve/{reservation}")).token(&t.token_a))
        .await;
    assert_eq!(shown.json()["status"], "released");
}

#[tokio::test]
async fn converting_a_reservation_consumes_its_held_use_exactly_once() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 2})).await;
    let held = t
        .send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": code, "customer_id": "alice"})),
        )
        .await;
    let reservation = held.expect(201).string("reservation_id");

    let attempts = (0..10).map(|_| {
        t.send(consume(
            &t,
            json!({"code": code, "reservation_id": reservation}),
        ))
    });
    let responses = join_all(attempts).await;
    let ok: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].json()["customer_id"], "alice");
    for r in responses.iter().filter(|r| r.status != 200) {
        r.assert_problem(409, "reservation_used");
    }
    let coupon = details(&t, &code).await;
    assert_eq!(
        (
            coupon["availability_count"].clone(),
            coupon["redeemed_count"].clone()
        ),
        (json!(1), json!(1))
    );

    // A cancelled reservation gives its use back at once, and only once.
    let second = t
        .send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": code})),
        )
        .await;
    let second = second.string("reservation_id");
    assert_eq!(details(&t, &code).await["availability_count"], 0);
    for _ in 0..2 {
        let cancelled = t
            .send(delete(&format!("/coupon/reserve/{second}")).token(&t.token_a))
            .await;
        cancelled.expect(204);
    }
    assert_eq!(details(&t, &code).await["availability_count"], 1);
    t.send(delete(&format!("/coupon/reserve/{reservation}")).token(&t.token_a))
        .await
        .assert_problem(409, "reservation_used");
    t.send(get(&format!("/coupon/reserve/{second}")).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_holds_come_back_once_however_many_requests_notice() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 3})).await;
    for _ in 0..3 {
        let held = t
            .send(
                post("/coupon/reserve")
                    .token(&t.token_a)
                    .json(json!({"code": code, "ttl_seconds": 1})),
            )
            .await;
        held.expect(201);
    }
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let responses = join_all((0..30).map(|_| t.send(consume(&t, json!({"code": code}))))).await;
    let ok = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 3, "three uses came back, each exactly once");
    for r in responses.iter().filter(|r| r.status != 200) {
        r.assert_problem(409, "exhausted");
    }
    let coupon = details(&t, &code).await;
    assert_eq!(coupon["availability_count"], 0);
    assert_eq!(coupon["redeemed_count"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_gets_at_most_their_share_even_when_racing() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(json!({"availability_count": 100, "max_uses_per_customer": 2}))
        .await;
    t.send(consume(&t, json!({"code": code})))
        .await
        .assert_problem(422, "invalid_request");

    let responses = join_all(
        (0..20).map(|_| t.send(consume(&t, json!({"code": code, "customer_id": "carol"})))),
    )
    .await;
    assert_eq!(responses.iter().filter(|r| r.status == 200).count(), 2);
    for r in responses.iter().filter(|r| r.status != 200) {
        r.assert_problem(409, "customer_limit_reached");
    }
    let validation = t
        .send(get(&format!("/coupon/consume?code={code}&customer_id=carol")).token(&t.token_a))
        .await
        .json();
    assert_eq!(validation["reason"], "customer_limit_reached");
    let dave = t
        .send(consume(&t, json!({"code": code, "customer_id": "dave"})))
        .await;
    dave.expect(200);

    // A rollback gives carol one use back.
    let carol_id = responses.iter().find(|r| r.status == 200).unwrap().json()["redemption_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rolled = t
        .send(post(&format!("/coupon/consume/{carol_id}/rollback")).token(&t.token_a))
        .await;
    rolled.expect(200);
    let again = t
        .send(consume(&t, json!({"code": code, "customer_id": "carol"})))
        .await;
    again.expect(200);
    assert_eq!(details(&t, &code).await["availability_count"], 97);
}

#[tokio::test]
async fn validate_and_consume_price_the_order() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(json!({
            "availability_count": 5,
            "discount_percent": "33.33",
            "min_order_amount": "0.01",
            "currency": "EUR",
        }))
        .await;
    let cases = [
        ("0.01", "0.00", "0.01"),
        ("100", "33.33", "66.67"),
        ("0.03", "0.01", "0.02"),
    ];
    for (order, off, pay) in cases {
        let validation = t
            .send(
                get(&format!(
                    "/coupon/consume?code={code}&order_amount={order}&currency=eur"
                ))
                .token(&t.token_a),
            )
            .await
            .json();
        assert_eq!(validation["valid"], true, "{validation}");
        assert_eq!(validation["pricing"]["discount_amount"], off, "{order}");
        assert_eq!(validation["pricing"]["final_amount"], pay, "{order}");
    }
    t.send(consume(
        &t,
        json!({"code": code, "order_amount": "10", "currency": "USD"}),
    ))
    .await
    .assert_problem(409, "currency_mismatch");
    t.send(consume(&t, json!({"code": code})))
        .await
        .assert_problem(422, "invalid_request");
    t.send(consume(&t, json!({"code": code, "order_amount": "-1"})))
        .await
        .assert_problem(422, "invalid_request");
    t.send(consume(&t, json!({"code": code, "order_amount": "0.1e3"})))
        .await
        .assert_problem(422, "invalid_request");

    let fixed = t
        .create_coupon(json!({"discount_fixed": "10", "min_order_amount": "25"}))
        .await;
    t.send(consume(&t, json!({"code": fixed, "order_amount": "24.99"})))
        .await
        .assert_problem(409, "below_minimum_order");
    let paid = t
        .send(consume(&t, json!({"code": fixed, "order_amount": "25"})))
        .await;
    paid.expect(200);
    assert_eq!(paid.json()["pricing"]["discount_amount_minor"], 1000);
    assert_eq!(paid.json()["pricing"]["final_amount"], "15.00");
}
