//! Bad input gets a clear 4xx problem, never a 5xx.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn malformed_input_gets_a_4xx_problem() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"code": "EXISTING1"})).await;
    let huge_code = "A".repeat(10_000);
    let a = |b: RequestBuilder| b.token(&t.token_a);
    let cases: Vec<(&str, RequestBuilder, u16)> = vec![
        (
            "bad JSON",
            a(post("/coupon")).raw("application/json", "{\"quantity\": "),
            400,
        ),
        (
            "JSON array",
            a(post("/coupon")).raw("application/json", "[1,2]"),
            400,
        ),
        (
            "unsupported type",
            a(post("/coupon")).raw("text/plain", "quantity=1"),
            400,
        ),
        (
            "broken multipart",
            a(post("/coupon")).raw("multipart/form-data; boundary=x", "--x\r\nnonsense"),
            400,
        ),
        (
            "wrong type",
            a(post("/coupon")).json(json!({"quantity": "many"})),
            422,
        ),
        (
            "object for number",
            a(post("/coupon")).json(json!({"availability_count": {"n": 1}})),
            422,
        ),
        (
            "negative count",
            a(post("/coupon")).json(json!({"availability_count": -5})),
            422,
        ),
        (
            "negative quantity form",
            a(post("/coupon")).form(&[("quantity", "-1")]),
            422,
        ),
        (
            "fractional quantity",
            a(post("/coupon")).json(json!({"quantity": 1.5})),
            422,
        ),
        (
            "huge count",
            a(post("/coupon")).json(json!({"availability_count": 1e30})),
            422,
        ),
        (
            "huge quantity",
            a(post("/coupon")).json(json!({"quantity": 1_000_000})),
            422,
        ),
        (
            "zero quantity",
            a(post("/coupon")).json(json!({"quantity": 0})),
            422,
        ),
        (
            "code_length too short",
            a(post("/coupon")).json(json!({"code_length": 3})),
            422,
        ),
        (
            "code_length too long",
            a(post("/coupon")).json(json!({"code_length": 65})),
            422,
        ),
        (
            "unknown field",
            a(post("/coupon")).json(json!({"colour": "red"})),
            422,
        ),
        (
            "unknown form field",
            a(post("/coupon")).multipart(&[("discount", "5")]),
            422,
        ),
        (
            "duplicate form field",
            a(post("/coupon")).raw("application/x-www-form-urlencoded", "quantity=1&quantity=2"),
            422,
        ),
        (
            "10 kB code",
            a(post("/coupon")).json(json!({"code": huge_code})),
            422,
        ),
        (
            "code with spaces",
            a(post("/coupon")).json(json!({"code": "A B"})),
            422,
        ),
        (
            "bad date",
            a(post("/coupon")).json(json!({"expiry_date": "31-Feb-2030"})),
            422,
        ),
        (
            "nonsense date",
            a(post("/coupon")).form(&[("expiry_date", "soon")]),
            422,
        ),
        (
            "start after end",
            a(post("/coupon"))
                .json(json!({"starts_at": "2031-01-01", "expiry_date": "2030-01-01"})),
            422,
        ),
        (
            "percent over 100",
            a(post("/coupon")).json(json!({"discount_percent": 150})),
            422,
        ),
        (
            "percent alias over 100",
            a(post("/coupon")).form(&[("discount_variable", "100.5")]),
            422,
        ),
        (
            "both discounts",
            a(post("/coupon")).json(json!({"discount_fixed": 5, "discount_percent": 10})),
            422,
        ),
        (
            "three decimals",
            a(post("/coupon")).json(json!({"discount_fixed": "1.999"})),
            422,
        ),
        (
            "negative discount",
            a(post("/coupon")).json(json!({"discount_fixed": "-1"})),
            422,
        ),
        (
            "bad currency",
            a(post("/coupon")).json(json!({"currency": "EURO"})),
            422,
        ),
        (
            "code and code_length",
            a(post("/coupon")).json(json!({"code": "ABCD", "code_length": 8})),
            422,
        ),
        (
            "custom code quantity",
            a(post("/coupon")).json(json!({"code": "ABCD", "quantity": 5})),
            422,
        ),
        (
            "body too large",
            a(post("/coupon")).raw(
                "application/json",
                &format!("{{\"code\": \"{}\"}}", "A".repeat(70_000)),
            ),
            413,
        ),
        (
            "10 kB code lookup",
            a(get(&format!("/coupon?code={huge_code}"))),
            422,
        ),
        ("bad limit", a(get("/coupon?limit=0")), 422),
        ("limit not a number", a(get("/coupon?limit=ten")), 422),
        ("bad cursor", a(get("/coupon?cursor=%3B%3B")), 422),
        ("unknown query", a(get("/coupon?colour=red")), 422),
        ("code and limit", a(get("/coupon?code=ABC&limit=5")), 422),
        (
            "update nothing",
            a(put(&format!("/coupon/{code}"))).json(json!({})),
            422,
        ),
        (
            "update code",
            a(put(&format!("/coupon/{code}"))).json(json!({"code": "NEW"})),
            422,
        ),
        (
            "update negative",
            a(put(&format!("/coupon/{code}"))).form(&[("availability_count", "-3")]),
            422,
        ),
        (
            "update bad flag",
            a(put(&format!("/coupon/{code}"))).json(json!({"active": "yes"})),
            422,
        ),
        ("consume without code", a(post("/coupon/consume")), 422),
        (
            "consume 10 kB code",
            a(post(&format!("/coupon/consume?code={huge_code}"))),
            422,
        ),
        (
            "consume repeated code",
            a(post("/coupon/consume?code=A&code=B")),
            422,
        ),
        (
            "consume unknown param",
            a(post("/coupon/consume?code=A&coupon=B")),
            422,
        ),
        (
            "consume conflicting body",
            a(post(&format!("/coupon/consume?code={code}"))).json(json!({"code": "OTHER"})),
            422,
        ),
        ("validate without code", a(get("/coupon/consume")), 422),
        (
            "wrong method",
            a(RequestBuilder::new("PATCH", "/coupon")),
            405,
        ),
        (
            "wrong method on consume",
            a(RequestBuilder::new("DELETE", "/coupon/consume?code=A")),
            405,
        ),
    ];
    for (name, request, status) in cases {
        let response = t.send(request).await;
        assert_eq!(response.status, status, "{name}: {}", response.text());
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{name}"
        );
        if status == 405 {
            // RFC 9110: a 405 lists the methods the path takes.
            assert!(
                response.header("allow").is_some(),
                "{name}: no Allow header"
            );
        }
        let problem = response.json();
        assert_eq!(problem["status"], status, "{name}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}"
        );
    }
    // Nothing above changed the existing coupon.
    let coupon = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await
        .json();
    assert_eq!(coupon["availability_count"], 1);
    assert_eq!(coupon["redeemed_count"], 0);
}
