//! DynamoDB requests per operation, counted by an SDK interceptor.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn validate_and_consume_make_three_requests_each_when_warm() {
    let (t, counter) = TestApp::counted().await;
    let code = t
        .create_coupon(json!({"availability_count": 10, "product_id": "apple123"}))
        .await;
    let validate =
        || get(&format!("/coupon/consume?code={code}&product_id=apple123")).token(&t.token_a);
    let consume =
        || post(&format!("/coupon/consume?code={code}&product_id=apple123")).token(&t.token_a);

    // Warms the token cache (and the limiter's hint).
    assert_eq!(t.send(validate()).await.status, 200);
    counter.take();

    // Each code lookup reads its identity's guessing block while the
    // limiter writes: three requests, two rounds of waiting.
    assert_eq!(t.send(validate()).await.status, 200);
    assert_eq!(
        counter.take(),
        ["UpdateItem", "GetItem", "GetItem"],
        "validate: limiter and block, coupon"
    );

    // The checkout flow: validate, then consume the coupon validate just read.
    assert_eq!(t.send(consume()).await.status, 200);
    assert_eq!(
        counter.take(),
        ["UpdateItem", "GetItem", "TransactWriteItems"],
        "consume: limiter and block, transaction"
    );
    assert_eq!(t.send(consume()).await.status, 200);
    assert_eq!(
        counter.take(),
        ["UpdateItem", "GetItem", "TransactWriteItems"]
    );

    let details = get(&format!("/coupon?code={code}")).token(&t.token_a);
    assert_eq!(t.send(details).await.status, 200);
    assert_eq!(
        counter.take(),
        ["UpdateItem", "GetItem", "GetItem"],
        "details: limiter and block, coupon"
    );
}

#[tokio::test]
async fn a_cold_token_costs_two_reads_once() {
    let (t, counter) = TestApp::counted().await;
    counter.take();
    assert_eq!(
        t.send(get("/coupon?limit=5").token(&t.token_a))
            .await
            .status,
        200
    );
    assert_eq!(
        counter.take(),
        ["GetItem", "GetItem", "UpdateItem", "Query"],
        "token, tenant, limiter, list"
    );
    assert_eq!(
        t.send(get("/coupon?limit=5").token(&t.token_a))
            .await
            .status,
        200
    );
    assert_eq!(counter.take(), ["UpdateItem", "Query"]);
}

#[tokio::test]
async fn a_junk_token_costs_one_read_per_instance_and_ten_seconds() {
    let (t, counter) = TestApp::counted().await;
    counter.take();
    for _ in 0..5 {
        t.send(get("/coupon?limit=5").token("not-a-token-anyone-issued"))
            .await
            .assert_problem(401, "unauthorized");
    }
    assert_eq!(
        counter.take(),
        ["GetItem"],
        "one token lookup for five tries"
    );
}

/// A campaign code costs one more read when it is not cached (its
/// campaign) and nothing more when it is: the budget shard is one more
/// item of the same transaction.
#[tokio::test]
async fn a_campaign_code_adds_one_read_and_no_request_to_a_warm_consume() {
    let (t, counter) = TestApp::counted().await;
    let made = t
        .send(post("/campaigns").token(&t.token_a).json(json!({
            "name": "Counted", "discount_fixed": "1", "currency": "EUR", "budget_uses": 100,
        })))
        .await;
    let campaign = made.expect(201).string("campaign_id");
    let code = t
        .create_coupon(json!({"campaign_id": campaign, "availability_count": 10}))
        .await;
    let consume = || post(&format!("/coupon/consume?code={code}")).token(&t.token_a);
    counter.take();
    // A first consume reads the code and its campaign.
    assert_eq!(t.send(consume()).await.status, 200);
    assert_eq!(
        counter.take(),
        [
            "UpdateItem",
            "GetItem",
            "GetItem",
            "BatchGetItem",
            "TransactWriteItems"
        ],
        "cold: limiter and block, the coupon, its campaign, the transaction"
    );
    assert_eq!(t.send(consume()).await.status, 200);
    assert_eq!(
        counter.take(),
        ["UpdateItem", "GetItem", "TransactWriteItems"],
        "warm: limiter and block, transaction"
    );
}
