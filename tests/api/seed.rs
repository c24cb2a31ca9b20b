//! The original README's five curl examples, as API Gateway delivers them:
//! multipart forms, a bare `Authorization` header, `15-Jan-2030`, trailing slashes.

use crate::helpers::*;

#[tokio::test]
async fn the_original_five_examples_work() {
    let t = TestApp::new().await;
    let bare = |b: RequestBuilder| b.header("authorization", &t.token_a);

    // 1. Generate a coupon code.
    let created = t
        .send(bare(post("/coupon/")).multipart(&[
            ("code_length", "6"),
            ("expiry_date", "15-Jan-2030"),
            ("availability_count", "1024"),
            ("product_id", "apple123"),
            ("promo_type", "voucher"),
            ("discount_fixed", "20"),
        ]))
        .await;
    created.expect(201);
    let coupon = created.json();
    let code = coupon["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert_eq!(coupon["expiry_date"], "2030-01-15T23:59:59Z");
    assert_eq!(coupon["availability_count"], 1024);
    assert_eq!(
        coupon["discount"],
        serde_json::json!({"type": "fixed", "value": "20.00"})
    );

    // 2. All the details of the coupon.
    let details = t.send(bare(get(&format!("/coupon/?code={code}")))).await;
    details.expect(200);
    assert_eq!(details.json()["product_id"], "apple123");
    assert_eq!(details.json()["promo_type"], "voucher");

    // 4. Validate (before step 3 sets the uses to zero).
    let valid = t
        .send(bare(get(&format!(
            "/coupon/consume/?code={code}&product_id=apple123"
        ))))
        .await;
    valid.expect(200);
    assert_eq!(valid.json()["valid"], true);

    // 5. Consume.
    let consumed = t
        .send(bare(post(&format!("/coupon/consume/?code={code}"))))
        .await;
    consumed.expect(200);
    let redemption = consumed.json();
    assert_eq!(redemption["code"], code.as_str());
    assert_eq!(redemption["availability_count"], 1023);
    assert!(redemption["redemption_id"].is_string());

    // 3. Update: no uses left.
    let updated = t
        .send(bare(put(&format!("/coupon/{code}/"))).multipart(&[("availability_count", "0")]))
        .await;
    updated.expect(200);
    assert_eq!(updated.json()["availability_count"], 0);

    let exhausted = t
        .send(bare(post(&format!("/coupon/consume/?code={code}"))))
        .await;
    exhausted.assert_problem(409, "exhausted");
}
