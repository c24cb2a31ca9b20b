//! Create, details, list, update and delete.

use std::collections::BTreeSet;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn generated_codes_are_upper_case_without_look_alikes() {
    let t = TestApp::new().await;
    let created = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"quantity": 250, "code_length": 10})),
        )
        .await;
    created.expect(201);
    let body = created.json();
    assert_eq!(body["count"], 250);
    let codes: BTreeSet<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 250, "codes are distinct");
    for code in &codes {
        assert_eq!(code.len(), 10);
        assert!(
            code.chars()
                .all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)),
            "{code}"
        );
    }
}

#[tokio::test]
async fn custom_codes_are_case_insensitive_and_unique() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(
            json!({"code": " summer-24 ", "discount_percent": "12.5", "currency": "eur"}),
        )
        .await;
    assert_eq!(code, "SUMMER-24");
    let again = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"code": "Summer-24"})),
        )
        .await;
    again.assert_problem(409, "already_exists");

    let details = t
        .send(get("/coupon?code=summer-24").token(&t.token_a))
        .await;
    assert_eq!(details.status, 200);
    let coupon = details.json();
    assert_eq!(
        coupon["discount"],
        json!({"type": "percent", "value": "12.50"})
    );
    assert_eq!(coupon["currency"], "EUR");
    for field in [
        "code",
        "product_id",
        "promo_type",
        "discount",
        "availability_count",
        "redeemed_count",
        "starts_at",
        "expiry_date",
        "active",
        "created_at",
        "updated_at",
    ] {
        assert!(coupon.get(field).is_some(), "missing {field}");
    }
}

#[tokio::test]
async fn list_pages_through_every_coupon_once() {
    let t = TestApp::new().await;
    t.send(
        post("/coupon")
            .token(&t.token_a)
            .json(json!({"quantity": 23})),
    )
    .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/coupon?limit=10&cursor={c}"),
            None => "/coupon?limit=10".to_owned(),
        };
        let page = t.send(get(&path).token(&t.token_a)).await.json();
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(page["has_more"], true);
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(page["has_more"], false);
                break;
            }
        }
    }
    assert_eq!(seen.len(), 23);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "each coupon once, in code order");
}

#[tokio::test]
async fn update_changes_and_clears_fields() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(
            json!({"product_id": "apple123", "expiry_date": "2030-01-15", "discount_fixed": 5}),
        )
        .await;
    let updated = t
        .send(put(&format!("/coupon/{code}")).token(&t.token_a).json(json!({
            "expiry_date": null, "discount_percent": 10, "promo_type": "cashback", "active": false,
            "availability_count": 7
        })))
        .await;
    updated.expect(200);
    let coupon = updated.json();
    assert_eq!(coupon["expiry_date"], serde_json::Value::Null);
    assert_eq!(
        coupon["discount"],
        json!({"type": "percent", "value": "10.00"})
    );
    assert_eq!(coupon["promo_type"], "cashback");
    assert_eq!(coupon["active"], false);
    assert_eq!(coupon["availability_count"], 7);
    assert_eq!(coupon["product_id"], "apple123");

    let cleared = t
        .send(
            put(&format!("/coupon/{code}"))
                .token(&t.token_a)
                .form(&[("discount_percent", ""), ("product_id", "")]),
        )
        .await;
    assert_eq!(cleared.json()["discount"], serde_json::Value::Null);
    assert_eq!(cleared.json()["product_id"], serde_json::Value::Null);

    let missing = t
        .send(
            put("/coupon/NOPE1234")
                .token(&t.token_a)
                .json(json!({"active": true})),
        )
        .await;
    missing.assert_problem(404, "not_found");
}

#[tokio::test]
async fn delete_removes_the_coupon_but_keeps_its_redemptions() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 3})).await;
    let consumed = t
        .send(post(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await;
    assert_eq!(consumed.status, 200);

    let deleted = t
        .send(delete(&format!("/coupon/{code}/")).token(&t.token_a))
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    t.send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await
        .assert_problem(404, "not_found");
    t.send(delete(&format!("/coupon/{code}")).token(&t.token_a))
        .await
        .assert_problem(404, "not_found");

    let rows = t.redemption_rows(chrono::Utc::now()).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["code"].as_s().unwrap(), &code);
}
