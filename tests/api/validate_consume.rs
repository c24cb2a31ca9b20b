//! Validation reasons and consume refusals agree.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_refusal_is_reported_by_validate_and_consume_alike() {
    let t = TestApp::new().await;
    let cases = [
        (
            json!({"expiry_date": "2020-01-01T00:00:00Z"}),
            None,
            "expired",
        ),
        (json!({"starts_at": "2099-01-01"}), None, "not_yet_valid"),
        (json!({"active": false}), None, "inactive"),
        (
            json!({"product_id": "apple123"}),
            Some("pear9"),
            "product_mismatch",
        ),
    ];
    for (fields, product, reason) in cases {
        let code = t.create_coupon(fields).await;
        let query = match product {
            Some(p) => format!("code={code}&product_id={p}"),
            None => format!("code={code}"),
        };
        let validation = t
            .send(get(&format!("/coupon/consume?{query}")).token(&t.token_a))
            .await;
        assert_eq!(validation.status, 200);
        let body = validation.json();
        assert_eq!(body["valid"], false);
        assert_eq!(body["reason"], reason);
        assert_eq!(body["coupon"]["code"], code.as_str());

        let consumed = t
            .send(post(&format!("/coupon/consume?{query}")).token(&t.token_a))
            .await;
        consumed.assert_problem(409, reason);
    }
}

#[tokio::test]
async fn consume_takes_one_use_and_reports_the_discount() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(
            json!({"availability_count": 2, "product_id": "apple123", "discount_fixed": "4.99",
                              "currency": "USD", "promo_type": "voucher"}),
        )
        .await;
    let lower = code.to_lowercase();
    let validation = t
        .send(get(&format!("/coupon/consume?code={lower}&product_id=apple123")).token(&t.token_a))
        .await;
    assert_eq!(validation.json()["valid"], true);
    assert_eq!(validation.json()["reason"], serde_json::Value::Null);

    let first = t
        .send(post(&format!("/coupon/consume?code={lower}&product_id=apple123")).token(&t.token_a))
        .await;
    first.expect(200);
    let redemption = first.json();
    assert_eq!(redemption["availability_count"], 1);
    assert_eq!(redemption["product_id"], "apple123");
    assert_eq!(
        redemption["discount"],
        json!({"type": "fixed", "value": "4.99"})
    );
    assert_eq!(redemption["currency"], "USD");

    // Parameters may come in a body instead of the query string.
    let second = t
        .send(
            post("/coupon/consume")
                .token(&t.token_a)
                .json(json!({"code": code})),
        )
        .await;
    second.expect(200);
    t.send(post(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await
        .assert_problem(409, "exhausted");

    let validation = t
        .send(get(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await;
    assert_eq!(validation.json()["reason"], "exhausted");
    t.send(get("/coupon/consume?code=UNKNOWN99").token(&t.token_a))
        .await
        .assert_problem(404, "not_found");
}
