//! Generation refuses keyspaces that make codes easy to guess.

use common::keyspace::KeyspacePolicy;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn short_codes_in_bulk_are_refused_and_long_ones_made() {
    let t = TestApp::new().await;
    let refused = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .form(&[("code_length", "4"), ("quantity", "1000000")]),
        )
        .await;
    refused.assert_problem(422, "invalid_request");
    let detail = refused.string("detail");
    assert!(detail.contains("code_length"), "{detail}");

    let made = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"code_length": 12, "quantity": 1000})),
        )
        .await;
    made.expect(201);
    assert_eq!(made.json()["count"], 1000);
}

#[tokio::test]
async fn live_codes_of_a_shape_count_against_its_keyspace() {
    // 31^6 codes of length 6: a threshold that allows 10 live ones.
    let keyspace = KeyspacePolicy {
        guess_threshold: 10.5 / 31f64.powi(6),
    };
    let t = TestApp::with(Options {
        keyspace,
        ..Options::default()
    })
    .await;
    let create = |quantity: u32| {
        post("/coupon")
            .token(&t.token_a)
            .json(json!({"code_length": 6, "quantity": quantity}))
    };

    let first = t.send(create(6)).await;
    first.expect(201);
    let refused = t.send(create(5)).await;
    refused.assert_problem(422, "invalid_request");
    assert!(
        refused.json()["detail"]
            .as_str()
            .unwrap()
            .contains("6 live"),
        "{}",
        refused.text()
    );
    assert_eq!(t.send(create(4)).await.status, 201);

    // Deleting a generated code frees its place; custom codes never count.
    let code = first.json()["data"][0]["code"].as_str().unwrap().to_owned();
    assert_eq!(
        t.send(delete(&format!("/coupon/{code}")).token(&t.token_a))
            .await
            .status,
        204
    );
    assert_eq!(t.send(create(1)).await.status, 201);
    t.send(create(1))
        .await
        .assert_problem(422, "invalid_request");
    assert_eq!(
        t.send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"code": "CUSTOM1"}))
        )
        .await
        .status,
        201
    );
    // Other lengths and other tenants have their own counts.
    assert_eq!(
        t.send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"code_length": 7}))
        )
        .await
        .status,
        201
    );
    let other = t
        .send(
            post("/coupon")
                .token(&t.token_b)
                .json(json!({"code_length": 6, "quantity": 10})),
        )
        .await;
    other.expect(201);
}
