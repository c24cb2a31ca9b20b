//! A token belongs to one tenant: another tenant's codes look missing.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn another_tenant_gets_404_on_every_route() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(json!({"code": "TENANT-A-ONLY", "availability_count": 5}))
        .await;
    let other = &t.token_b;

    let attempts = [
        get(&format!("/coupon?code={code}")).token(other),
        put(&format!("/coupon/{code}"))
            .token(other)
            .json(json!({"availability_count": 100})),
        delete(&format!("/coupon/{code}")).token(other),
        get(&format!("/coupon/consume?code={code}")).token(other),
        post(&format!("/coupon/consume?code={code}")).token(other),
    ];
    for attempt in attempts {
        t.send(attempt).await.assert_problem(404, "not_found");
    }
    let listed = t.send(get("/coupon").token(other)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["data"], json!([]));

    // Tenant B may even create the same code: codes are per tenant.
    let own = t
        .send(post("/coupon").token(other).json(json!({"code": code})))
        .await;
    assert_eq!(own.status, 201, "{}", own.text());

    // Tenant A's coupon is untouched by all of the above.
    let mine = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await;
    assert_eq!(mine.json()["availability_count"], 5);
    assert_eq!(mine.json()["redeemed_count"], 0);
}
