//! The money path's promise, hole by hole: a use is taken exactly once and
//! never oversold, whatever order operations arrive in. Each test is a
//! sequence a client can produce that broke that promise once.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::helpers::*;

type Item = HashMap<String, AttributeValue>;

async fn details(t: &TestApp, code: &str) -> Value {
    let response = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await;
    response.expect(200);
    response.json()
}

fn consume(t: &TestApp, body: Value) -> RequestBuilder {
    post("/coupon/consume").token(&t.token_a).json(body)
}

fn keyed(t: &TestApp, key: &str, body: Value) -> RequestBuilder {
    consume(t, body).header("idempotency-key", key)
}

async fn reserve(t: &TestApp, body: Value) -> String {
    let held = t
        .send(post("/coupon/reserve").token(&t.token_a).json(body))
        .await;
    held.expect(201).string("reservation_id")
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// Every number the service keeps as a count, anywhere in the table.
async fn assert_no_count_below_zero(t: &TestApp) {
    for item in t.all_items().await {
        for name in [
            "uses_left",
            "redeemed_count",
            "reserved_count",
            "uses",
            "live",
        ] {
            if let Some(value) = item.get(name).and_then(|v| v.as_n().ok()) {
                let value: i64 = value.parse().unwrap();
                assert!(value >= 0, "{name} = {value} on {:?}", text(&item, "PK"));
            }
        }
    }
}

/// Removes every customer's count item, as if an older version had kept
/// them under other keys.
async fn delete_customer_counts(t: &TestApp) {
    for item in t.all_items().await {
        if text(&item, "SK").is_some_and(|sk| sk.starts_with("CUST#")) {
            t.client
                .delete_item()
                .table_name(&t.table)
                .key("PK", item["PK"].clone())
                .key("SK", item["SK"].clone())
                .send()
                .await
                .unwrap();
        }
    }
}

// ---- 1. A reservation belongs to the coupon it was made on ----

/// Reserve the only use, delete the coupon, create it again with two, use
/// one and hold the other: the old reservation converts nothing, and the new
/// hold is still there to convert.
async fn old_reservation_after_recreate(high_demand: bool) {
    let t = TestApp::new().await;
    t.create_coupon(json!({"code": "REUSE1", "availability_count": 1}))
        .await;
    let old = reserve(&t, json!({"code": "REUSE1", "ttl_seconds": 3600})).await;
    delete_coupon(&t, "REUSE1").await;
    t.create_coupon(json!({"code": "REUSE1", "availability_count": 2, "high_demand": high_demand}))
        .await;
    t.send(consume(&t, json!({"code": "REUSE1"})))
        .await
        .expect(200);
    let new = reserve(&t, json!({"code": "REUSE1", "ttl_seconds": 3600})).await;

    let late = t
        .send(consume(
            &t,
            json!({"code": "REUSE1", "reservation_id": old}),
        ))
        .await;
    late.assert_problem(409, "reservation_expired");
    // Releasing it gives the new coupon nothing either.
    t.send(delete(&format!("/coupon/reserve/{old}")).token(&t.token_a))
        .await
        .expect(204);
    t.send(consume(
        &t,
        json!({"code": "REUSE1", "reservation_id": new}),
    ))
    .await
    .expect(200);

    let coupon = details(&t, "REUSE1").await;
    assert_eq!(
        (
            &coupon["availability_count"],
            &coupon["redeemed_count"],
            &coupon["reserved_count"]
        ),
        (&json!(0), &json!(2), &json!(0))
    );
    assert_no_count_below_zero(&t).await;
}

#[tokio::test]
async fn a_reservation_of_a_deleted_coupon_never_converts() {
    old_reservation_after_recreate(false).await;
}

#[tokio::test]
async fn a_reservation_of_a_deleted_coupon_never_converts_on_a_high_demand_one() {
    old_reservation_after_recreate(true).await;
}

#[tokio::test]
async fn a_conversion_never_takes_a_use_that_is_not_held() {
    for high_demand in [false, true] {
        let t = TestApp::new().await;
        let code = t
            .create_coupon(json!({"availability_count": 2, "high_demand": high_demand}))
            .await;
        let held = reserve(&t, json!({"code": code})).await;
        // The held use is gone from the count (an inconsistency no request
        // makes; the write's condition must still refuse to go below zero).
        for item in t.all_items().await {
            if item
                .get("reserved_count")
                .is_some_and(|v| v.as_n().is_ok_and(|n| n != "0"))
            {
                t.client
                    .update_item()
                    .table_name(&t.table)
                    .key("PK", item["PK"].clone())
                    .key("SK", item["SK"].clone())
                    .update_expression("SET reserved_count = :zero")
                    .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                    .send()
                    .await
                    .unwrap();
            }
        }
        t.send(consume(&t, json!({"code": code, "reservation_id": held})))
            .await
            .assert_problem(409, "reservation_expired");
        assert_no_count_below_zero(&t).await;
        details(&t, &code).await;
    }
}

#[tokio::test]
async fn a_stored_item_that_cannot_be_read_is_a_logged_server_fault() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 1})).await;
    let pk = common::store::schema::coupon_pk(
        &t.tenant_a,
        &common::code::CouponCode::parse(&code).unwrap(),
    );
    t.client
        .update_item()
        .table_name(&t.table)
        .key("PK", AttributeValue::S(pk))
        .key("SK", AttributeValue::S("COUPON".into()))
        .update_expression("SET uses_left = :bad")
        .expression_attribute_values(":bad", AttributeValue::N("-1".into()))
        .send()
        .await
        .unwrap();
    let response = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await;
    // Not "unavailable, retry later": no retry mends it.
    response.assert_problem(500, "internal_error");
    assert_eq!(response.header("retry-after"), None);
}

// ---- 2. An idempotent retry answers the first response ----

/// An app that reads every coupon afresh, as one whose cache has lapsed.
async fn uncached() -> TestApp {
    TestApp::with(Options {
        recent_coupon_ttl: Some(Duration::ZERO),
        ..Options::default()
    })
    .await
}

/// Consumes with a key, lets `change` happen, and retries with the same
/// key and parameters: the first answer comes back, and no use is taken.
async fn retry_after(coupon: Value, request: Value, change: impl AsyncFnOnce(&TestApp, &str)) {
    let t = uncached().await;
    let code = t.create_coupon(coupon).await;
    let mut request = request;
    request["code"] = json!(code);
    let first = t.send(keyed(&t, "order-7", request.clone())).await;
    first.expect(200);
    change(&t, &code).await;
    let retry = t.send(keyed(&t, "order-7", request.clone())).await;
    retry.expect(200);
    assert_eq!(retry.body, first.body, "{}", retry.text());
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    // The same key with other parameters is still refused.
    request["customer_id"] = json!("someone-else");
    t.send(keyed(&t, "order-7", request))
        .await
        .assert_problem(422, "idempotency_key_reused");
}

async fn update(t: &TestApp, code: &str, fields: Value) {
    t.send(
        put(&format!("/coupon/{code}"))
            .token(&t.token_a)
            .json(fields),
    )
    .await
    .expect(200);
}

async fn delete_coupon(t: &TestApp, code: &str) {
    t.send(delete(&format!("/coupon/{code}")).token(&t.token_a))
        .await
        .expect(204);
}

// Each for a plain and a `high_demand` coupon, whose consumes take
// different paths to their refusals.

#[tokio::test]
async fn a_keyed_retry_after_the_terms_changed_replays_the_first_answer() {
    for high_demand in [false, true] {
        retry_after(
            json!({"availability_count": 5, "discount_fixed": "5", "high_demand": high_demand}),
            json!({"order_amount": "30.00"}),
            async |t, code| update(t, code, json!({"min_order_amount": "50.00"})).await,
        )
        .await;
    }
}

#[tokio::test]
async fn a_keyed_retry_after_the_coupon_was_deleted_replays_the_first_answer() {
    for high_demand in [false, true] {
        retry_after(
            json!({"availability_count": 5, "high_demand": high_demand}),
            json!({}),
            async |t, code| delete_coupon(t, code).await,
        )
        .await;
    }
}

#[tokio::test]
async fn a_keyed_retry_after_the_coupon_expired_replays_the_first_answer() {
    for high_demand in [false, true] {
        // The key is kept a day; the coupon expires within it.
        let soon = common::dates::format(chrono::Utc::now() + chrono::Duration::minutes(1));
        retry_after(
            json!({"availability_count": 5, "expiry_date": soon, "high_demand": high_demand}),
            json!({}),
            async |t, _| t.app().clock.advance(chrono::Duration::hours(2)),
        )
        .await;
    }
}

#[tokio::test]
async fn a_keyed_retry_after_the_customer_limit_was_reached_replays_the_first_answer() {
    for high_demand in [false, true] {
        retry_after(
            json!({"availability_count": 5, "max_uses_per_customer": 1, "high_demand": high_demand}),
            json!({"customer_id": "ann"}),
            async |_, _| {},
        )
        .await;
    }
}

// ---- 3. Deleting a high_demand coupon stops its consumes at once ----

#[tokio::test]
async fn deleting_a_high_demand_coupon_stops_consumes_at_once() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(json!({"availability_count": 100, "high_demand": true}))
        .await;
    // This instance now trusts the coupon it consumed for a few seconds.
    t.send(consume(&t, json!({"code": code}))).await.expect(200);
    delete_coupon(&t, &code).await;
    t.send(consume(&t, json!({"code": code})))
        .await
        .assert_problem(404, "not_found");
    // The shards went with the coupon, in the same write.
    let shard_pk = common::store::schema::shard_pk(
        &t.tenant_a,
        &common::code::CouponCode::parse(&code).unwrap(),
        0,
    );
    let left: Vec<Item> = t
        .all_items()
        .await
        .into_iter()
        .filter(|i| text(i, "PK").is_some_and(|pk| pk.starts_with(&shard_pk[..shard_pk.len() - 1])))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A Lambda timeout during `DELETE` (here: the handler dropped part-way)
/// must not leave the coupon gone and its shards serving consumes.
#[tokio::test]
async fn a_delete_cut_short_never_leaves_shards_serving_consumes() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(
            json!({"availability_count": 100, "high_demand": true, "max_uses_per_customer": 5}),
        )
        .await;
    // Many customers have used it: thousands of count items beside it.
    let pk = common::store::schema::coupon_pk(
        &t.tenant_a,
        &common::code::CouponCode::parse(&code).unwrap(),
    );
    let counts: Vec<_> = (0..2_000)
        .map(|i| {
            let item = HashMap::from([
                ("PK".to_owned(), AttributeValue::S(pk.clone())),
                (
                    "SK".to_owned(),
                    AttributeValue::S(format!("CUST#customer-{i:05}")),
                ),
                ("uses".to_owned(), AttributeValue::N("1".into())),
            ]);
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    for chunk in counts.chunks(25) {
        t.client
            .batch_write_item()
            .request_items(&t.table, chunk.to_vec())
            .send()
            .await
            .unwrap();
    }
    // This instance now trusts the coupon it consumed.
    t.send(consume(&t, json!({"code": code, "customer_id": "ann"})))
        .await
        .expect(200);
    let cut_short = tokio::time::timeout(
        Duration::from_millis(400),
        t.send(delete(&format!("/coupon/{code}")).token(&t.token_a)),
    )
    .await;
    let gone = t
        .all_items()
        .await
        .iter()
        .all(|i| !(text(i, "PK") == Some(pk.as_str()) && text(i, "SK") == Some("COUPON")));
    let after = t
        .send(consume(&t, json!({"code": code, "customer_id": "bob"})))
        .await;
    if gone {
        after.assert_problem(404, "not_found");
    } else {
        // Cut before the delete's one write: nothing happened.
        assert!(cut_short.is_err());
        after.expect(200);
    }
}

#[tokio::test]
async fn a_deleted_coupons_counts_and_holds_are_cleaned_up_by_the_worker() {
    let (t, counter) = TestApp::counted().await;
    // A coupon once per customer, and ann's use of it.
    let create_and_use = async || {
        t.create_coupon(
            json!({"code": "ONCE-EACH", "availability_count": 10, "max_uses_per_customer": 1}),
        )
        .await;
        t.send(consume(
            &t,
            json!({"code": "ONCE-EACH", "customer_id": "ann"}),
        ))
        .await
        .expect(200);
    };
    create_and_use().await;
    let held = reserve(
        &t,
        json!({"code": "ONCE-EACH", "customer_id": "bob", "ttl_seconds": 3600}),
    )
    .await;

    counter.take();
    delete_coupon(&t, "ONCE-EACH").await;
    // The request reads the coupon and deletes it in one transaction (with
    // its shards and a clean-up task); it does not walk the customer counts.
    let operations = counter.take();
    assert_eq!(
        operations
            .iter()
            .filter(|op| op.as_str() != "UpdateItem")
            .collect::<Vec<_>>(),
        ["GetItem", "TransactWriteItems"],
        "{operations:?}"
    );

    // A coupon created again under the code starts with no counts.
    create_and_use().await;

    let report = t.run_worker().await;
    assert!(
        report
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "ONCE-EACH" && r["outcome"] == "cleaned up"),
        "{report}"
    );
    let shown = t
        .send(get(&format!("/coupon/reserve/{held}")).token(&t.token_a))
        .await;
    assert_eq!(shown.json()["status"], "released");
    let items = t.all_items().await;
    // Only the new coupon's count for ann is left; the task is gone.
    let counts: Vec<&str> = items
        .iter()
        .filter_map(|i| text(i, "SK").filter(|sk| sk.starts_with("CUST#")))
        .collect();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(
        !items
            .iter()
            .any(|i| text(i, "type") == Some("coupon_cleanup"))
    );
    // The new coupon still counts ann's use.
    t.send(consume(
        &t,
        json!({"code": "ONCE-EACH", "customer_id": "ann"}),
    ))
    .await
    .assert_problem(409, "customer_limit_reached");
}

// ---- 5. Smaller holes ----

#[tokio::test]
async fn a_rollback_gives_the_use_back_when_only_the_customer_count_is_missing() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(json!({"availability_count": 2, "max_uses_per_customer": 2}))
        .await;
    let used = t
        .send(consume(&t, json!({"code": code, "customer_id": "ann"})))
        .await;
    let redemption = used.expect(200).string("redemption_id");
    // The customer's count item is gone (written by an older version under
    // another key, say); the coupon is not.
    delete_customer_counts(&t).await;
    let rolled_back = t
        .send(post(&format!("/coupon/consume/{redemption}/rollback")).token(&t.token_a))
        .await;
    assert_eq!(rolled_back.expect(200).json()["use_returned"], true);
    let coupon = details(&t, &code).await;
    assert_eq!(coupon["availability_count"], 2);
    assert_eq!(coupon["redeemed_count"], 0);
    assert_no_count_below_zero(&t).await;
}

#[tokio::test]
async fn a_release_gives_the_use_back_when_only_the_customer_count_is_missing() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(json!({"availability_count": 1, "max_uses_per_customer": 1}))
        .await;
    let held = reserve(&t, json!({"code": code, "customer_id": "ann"})).await;
    delete_customer_counts(&t).await;
    t.send(delete(&format!("/coupon/reserve/{held}")).token(&t.token_a))
        .await
        .expect(204);
    let coupon = details(&t, &code).await;
    assert_eq!(coupon["availability_count"], 1);
    assert_eq!(coupon["reserved_count"], 0);
}

#[tokio::test]
async fn malformed_cursors_are_refused_not_failed() {
    let t = TestApp::new().await;
    t.send(get("/exports?cursor=x%23").token(&t.token_a))
        .await
        .assert_problem(422, "invalid_request");
    let job = t
        .start_job(json!({"quantity": 1_001, "code_length": 12}))
        .await;
    t.send(
        get(&format!(
            "/coupon/jobs/{job}/codes?cursor=18446744073709551615"
        ))
        .token(&t.token_a),
    )
    .await
    .assert_problem(422, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_paginated_route_refuses_a_cursor_it_did_not_give() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let t = TestApp::new().await;
    let job = t
        .start_job(json!({"quantity": 1_001, "code_length": 12}))
        .await;
    let routes = [
        "/coupon?limit=2&cursor=".to_owned(),
        "/exports?cursor=".to_owned(),
        format!("/coupon/jobs/{job}/codes?cursor="),
    ];
    // Random text, numbers of every size, look-alikes of real cursors,
    // and the edges: the largest number, an empty key.
    let cursors = prop_oneof![
        "\\PC{0,40}",
        "[0-9]{1,25}",
        Just(u64::MAX.to_string()),
        "[0-9]{0,13}#",
        "[0-9]{13}#.{0,30}",
        "[0-9]{13}#exports/tenant-[ab]/.{0,20}",
        "[A-Z0-9_-]{0,70}",
    ];
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let outcome = runner.run(&cursors, |cursor| {
        let encoded: String = url_escape(&cursor);
        for route in &routes {
            let response = tokio::task::block_in_place(|| {
                handle.block_on(t.send(get(&format!("{route}{encoded}")).token(&t.token_a)))
            });
            prop_assert!(
                response.status == 200 || response.status == 422,
                "{route}{encoded}: {} {}",
                response.status,
                response.text()
            );
        }
        Ok(())
    });
    outcome.unwrap();
}

/// Percent-encodes everything but unreserved characters.
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_body_that_is_not_utf8_gets_a_problem_from_every_route_that_takes_one() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 1})).await;
    let body: &[u8] = b"o\xffh";
    let routes = [
        ("POST", "/coupon".to_owned()),
        ("PUT", format!("/coupon/{code}")),
        ("POST", "/coupon/consume".to_owned()),
        ("POST", "/coupon/reserve".to_owned()),
        ("POST", "/exports".to_owned()),
    ];
    for (method, path) in routes {
        for content_type in [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let response = t
                .send(
                    RequestBuilder::new(method, &path)
                        .token(&t.token_a)
                        .bytes(content_type, body),
                )
                .await;
            assert!(
                response.status == 400 || response.status == 422,
                "{method} {path} {content_type}: {} {}",
                response.status,
                response.text()
            );
            assert_eq!(
                response.header("content-type"),
                Some("application/problem+json")
            );
        }
    }
}
