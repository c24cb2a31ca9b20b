//! `high_demand` coupons spread their uses over counter shards, so a crowd's
//! consumes write different items; every rule still holds, and they never
//! oversell.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use common::code::CouponCode;
use common::coupon::HIGH_DEMAND_SHARDS;
use common::store::schema;
use futures_util::future::join_all;
use serde_json::json;

use crate::exports::{download, export_today, read_workbook};
use crate::helpers::*;

/// The coupon's shard items, by shard number.
async fn shards(t: &TestApp, code: &str) -> HashMap<u32, HashMap<String, AttributeValue>> {
    let code = CouponCode::parse(code).unwrap();
    let mut found = HashMap::new();
    for shard in 0..HIGH_DEMAND_SHARDS {
        let item = t
            .client
            .get_item()
            .table_name(&t.table)
            .key(
                schema::PK,
                AttributeValue::S(schema::shard_pk(&t.tenant_a, &code, shard)),
            )
            .key(schema::SK, AttributeValue::S(schema::SHARD_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item;
        if let Some(item) = item {
            found.insert(shard, item);
        }
    }
    found
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// The coupon item itself, as stored.
async fn coupon_item(t: &TestApp, code: &str) -> HashMap<String, AttributeValue> {
    let code = CouponCode::parse(code).unwrap();
    t.client
        .get_item()
        .table_name(&t.table)
        .key(
            schema::PK,
            AttributeValue::S(schema::coupon_pk(&t.tenant_a, &code)),
        )
        .key(schema::SK, AttributeValue::S(schema::COUPON_SK.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_high_demand_coupon_never_oversells() {
    let t = TestApp::new().await;
    let created = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"code": "FLASH-SALE", "availability_count": 53, "high_demand": true})),
        )
        .await;
    created.expect(201);
    assert_eq!(created.json()["high_demand"], true);
    assert_eq!(created.json()["availability_count"], 53);
    let before = coupon_item(&t, "FLASH-SALE").await;

    let requests = (0..300).map(|_| {
        t.send(
            post("/coupon/consume")
                .token(&t.token_a)
                .json(json!({"code": "FLASH-SALE"})),
        )
    });
    let responses = join_all(requests).await;

    let successes: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    assert_eq!(successes.len(), 53, "exactly the coupon's uses succeed");
    for response in responses.iter().filter(|r| r.status != 200) {
        response.assert_problem(409, "exhausted");
    }
    let ids: BTreeSet<String> = successes
        .iter()
        .map(|r| r.string("redemption_id"))
        .collect();
    assert_eq!(ids.len(), 53, "each success has its own redemption");
    let rows = t.redemption_rows(Utc::now()).await;
    let logged: BTreeSet<String> = rows
        .iter()
        .map(|row| row["redemption_id"].as_s().unwrap().clone())
        .collect();
    assert_eq!(logged, ids, "exactly one log row per use");
    // The export merges the day's log shards back into time order.
    let export = export_today(&t).await.json();
    let sheets = read_workbook(download(export["url"].as_str().unwrap()).await);
    let exported: Vec<String> = sheets[0].rows[1..]
        .iter()
        .map(|row| row[0].clone())
        .collect();
    assert_eq!(exported.len(), 53, "every row exported once");
    assert!(exported.is_sorted(), "in time order: {exported:?}");
    assert_eq!(exported.into_iter().collect::<BTreeSet<_>>(), ids);

    let shards = shards(&t, "FLASH-SALE").await;
    assert_eq!(shards.len(), HIGH_DEMAND_SHARDS as usize);
    let mut from_rows: HashMap<u32, u64> = HashMap::new();
    for row in &rows {
        *from_rows
            .entry(row["shard"].as_n().unwrap().parse().unwrap())
            .or_default() += 1;
    }
    for (shard, item) in &shards {
        assert_eq!(number(item, "uses_left"), 0, "shard {shard} ran dry");
        assert_eq!(
            number(item, "redeemed_count"),
            from_rows.get(shard).copied().unwrap_or(0),
            "shard {shard} counts the rows that name it"
        );
    }
    assert_eq!(
        coupon_item(&t, "FLASH-SALE").await,
        before,
        "no consume wrote the coupon item"
    );
    let details = t
        .send(get("/coupon?code=FLASH-SALE").token(&t.token_a))
        .await
        .json();
    assert_eq!(details["availability_count"], 0);
    assert_eq!(details["redeemed_count"], 53);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_high_demand_coupon_keeps_every_rule() {
    let t = TestApp::new().await;
    let created = t
        .send(post("/coupon").token(&t.token_a).json(json!({
            "code": "DOORBUSTER", "availability_count": 20, "high_demand": true,
            "product_id": "tv-55", "max_uses_per_customer": 1,
        })))
        .await;
    created.expect(201);
    let consume =
        |fields: serde_json::Value| post("/coupon/consume").token(&t.token_a).json(fields);

    // Terms and per-customer limits.
    t.send(consume(
        json!({"code": "DOORBUSTER", "product_id": "radio", "customer_id": "ann"}),
    ))
    .await
    .assert_problem(409, "product_mismatch");
    let first = t
        .send(consume(
            json!({"code": "DOORBUSTER", "product_id": "tv-55", "customer_id": "ann"}),
        ))
        .await;
    first.expect(200);
    t.send(consume(
        json!({"code": "DOORBUSTER", "product_id": "tv-55", "customer_id": "ann"}),
    ))
    .await
    .assert_problem(409, "customer_limit_reached");

    // Idempotency: a retry replays, whatever shard it would pick.
    let keyed = || {
        consume(json!({"code": "DOORBUSTER", "product_id": "tv-55", "customer_id": "bob"}))
            .header("Idempotency-Key", "order-1")
    };
    let original = t.send(keyed()).await;
    let replay = t.send(keyed()).await;
    original.expect(200);
    assert_eq!(replay.text(), original.text());
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));

    // A reservation holds a use in its shard until it is consumed.
    let held = t
        .send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": "DOORBUSTER", "product_id": "tv-55", "customer_id": "cy"})),
        )
        .await;
    let reservation_id = held.expect(201).string("reservation_id");
    let details = t
        .send(get("/coupon?code=DOORBUSTER").token(&t.token_a))
        .await
        .json();
    assert_eq!(details["availability_count"], 17);
    assert_eq!(details["reserved_count"], 1);
    let converted = t
        .send(consume(
            json!({"code": "DOORBUSTER", "reservation_id": reservation_id}),
        ))
        .await;
    converted.expect(200);

    // A rollback gives the use back to a shard, once.
    let id = first.string("redemption_id");
    let rollback = format!("/coupon/consume/{id}/rollback");
    assert_eq!(t.send(post(&rollback).token(&t.token_a)).await.status, 200);
    t.send(post(&rollback).token(&t.token_a))
        .await
        .assert_problem(409, "already_rolled_back");
    let details = t
        .send(get("/coupon?code=DOORBUSTER").token(&t.token_a))
        .await
        .json();
    assert_eq!(details["availability_count"], 18);
    assert_eq!(details["redeemed_count"], 2);
    assert_eq!(details["reserved_count"], 0);

    // New terms reach consumes that only write a shard, even from an
    // instance that remembers the old ones: this consume warms the cache.
    let warm = t
        .send(consume(
            json!({"code": "DOORBUSTER", "product_id": "tv-55", "customer_id": "dee"}),
        ))
        .await;
    warm.expect(200);
    let patched = t
        .send(
            put("/coupon/DOORBUSTER")
                .token(&t.token_a)
                .json(json!({"active": false, "availability_count": 7})),
        )
        .await;
    patched.expect(200);
    assert_eq!(patched.json()["availability_count"], 7);
    assert_eq!(patched.json()["active"], false);
    t.send(consume(
        json!({"code": "DOORBUSTER", "product_id": "tv-55", "customer_id": "eve"}),
    ))
    .await
    .assert_problem(409, "inactive");
    let shards_now = shards(&t, "DOORBUSTER").await;
    let uses: u64 = shards_now.values().map(|i| number(i, "uses_left")).sum();
    assert_eq!(uses, 7, "the new count is spread over the shards");

    // Deleting the coupon deletes its shards.
    assert_eq!(
        t.send(delete("/coupon/DOORBUSTER").token(&t.token_a))
            .await
            .status,
        204
    );
    assert!(shards(&t, "DOORBUSTER").await.is_empty());
}

#[tokio::test]
async fn sold_out_only_when_every_shard_is_empty() {
    let t = TestApp::new().await;
    // Twelve uses over eight shards: one after another, the random first
    // shard is soon an empty one, and the consume must find another.
    t.create_coupon(json!({"code": "LAST-FEW", "availability_count": 12, "high_demand": true}))
        .await;
    for n in 0..12 {
        let response = t
            .send(post("/coupon/consume?code=LAST-FEW").token(&t.token_a))
            .await;
        assert_eq!(response.status, 200, "consume {n}: {}", response.text());
    }
    t.send(post("/coupon/consume?code=LAST-FEW").token(&t.token_a))
        .await
        .assert_problem(409, "exhausted");
    let validation = t
        .send(get("/coupon/consume?code=LAST-FEW").token(&t.token_a))
        .await
        .json();
    assert_eq!(validation["valid"], false);
    assert_eq!(validation["reason"], "exhausted");
}

#[tokio::test]
async fn high_demand_is_for_one_code() {
    let t = TestApp::new().await;
    t.send(
        post("/coupon")
            .token(&t.token_a)
            .json(json!({"quantity": 5, "high_demand": true})),
    )
    .await
    .assert_problem(422, "invalid_request");
}

/// `make bench`: the same crowd on a plain and a `high_demand` coupon, with
/// the DynamoDB requests each made per use sold. moto runs one request at a
/// time and never reports a `TransactionConflict`, so the wall times say how
/// much work each design does, not how DynamoDB would scale it; the
/// ceilings in BENCHMARKS.md come from DynamoDB's documented limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run by make bench"]
async fn flash_sale_requests_per_use() {
    const USES: u64 = 200;
    const BUYERS: usize = 1_000;
    println!(
        "| coupon | buyers | uses | sold | TransactWriteItems | BatchGetItem | GetItem | coupon requests per buyer | wall time on moto (s) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for high_demand in [false, true] {
        let counter = RequestCounter::default();
        let t = TestApp::with(Options {
            counter: Some(counter.clone()),
            rate: (100_000, 100_000),
            ..Options::default()
        })
        .await;
        t.create_coupon(
            json!({"code": "DEAL", "availability_count": USES, "high_demand": high_demand}),
        )
        .await;
        // Each buyer looks first, as a shop page would, then buys.
        t.send(get("/coupon/consume?code=DEAL").token(&t.token_a))
            .await;
        counter.take();
        let started = std::time::Instant::now();
        let requests =
            (0..BUYERS).map(|_| t.send(post("/coupon/consume?code=DEAL").token(&t.token_a)));
        let responses = join_all(requests).await;
        let elapsed = started.elapsed().as_secs_f64();
        let sold = responses.iter().filter(|r| r.status == 200).count();
        assert_eq!(sold as u64, USES, "never oversold");
        let statuses: BTreeSet<u16> = responses.iter().map(|r| r.status).collect();
        assert!(
            statuses.is_subset(&BTreeSet::from([200, 409])),
            "{statuses:?}"
        );
        let made = counter.take();
        let count = |name: &str| made.iter().filter(|op| *op == name).count();
        // The rate limiter's UpdateItem is the same one per request for both.
        let coupon_requests = made.iter().filter(|op| *op != "UpdateItem").count();
        println!(
            "| {} | {BUYERS} | {USES} | {sold} | {} | {} | {} | {:.2} | {elapsed:.1} |",
            if high_demand {
                "high_demand (8 shards)"
            } else {
                "plain"
            },
            count("TransactWriteItems"),
            count("BatchGetItem"),
            count("GetItem"),
            coupon_requests as f64 / BUYERS as f64,
        );
    }
}
