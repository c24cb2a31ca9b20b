//! Codes that belong to one customer: made personal on create or handed
//! out from a campaign's pool by `POST /coupon/assign`. To anyone but the
//! owner a personal code answers exactly as an unknown code does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

/// The parts of a 404 that do not name the code or the request.
fn shape(response: &TestResponse, code: &str) -> (u16, Value) {
    let mut problem = response.json();
    let detail = problem["detail"].as_str().unwrap().replace(code, "<code>");
    problem["detail"] = json!(detail);
    (response.status, problem)
}

#[tokio::test]
async fn a_personal_code_is_its_customers_alone() {
    let t = TestApp::new().await;
    let a = |b: RequestBuilder| b.token(&t.token_a);
    let created = t
        .send(a(post("/coupon")).json(json!({
            "code": "ANNA-1", "customer_id": "anna", "availability_count": 3
        })))
        .await;
    created.expect(201);
    assert_eq!(created.json()["customer_id"], "anna");

    // Another customer, or none, gets the unknown code's very answer.
    let unknown = t
        .send(a(get("/coupon/consume?code=NOBODY-1&customer_id=bob")))
        .await;
    let unknown = shape(&unknown, "NOBODY-1");
    assert_eq!(unknown.0, 404);
    for request in [
        get("/coupon/consume?code=ANNA-1&customer_id=bob"),
        get("/coupon/consume?code=ANNA-1"),
        post("/coupon/reserve?code=ANNA-1&customer_id=bob"),
        post("/coupon/consume?code=ANNA-1&customer_id=bob"),
        post("/coupon/consume?code=ANNA-1"),
    ] {
        let hidden = t.send(a(request)).await;
        assert_eq!(shape(&hidden, "ANNA-1"), unknown);
    }
    // Anna uses it; afterwards (the coupon now cached) others still cannot.
    let valid = t
        .send(a(get("/coupon/consume?code=ANNA-1&customer_id=anna")))
        .await
        .json();
    assert_eq!(valid["valid"], true, "{valid}");
    t.send(a(post("/coupon/consume?code=ANNA-1&customer_id=anna")))
        .await
        .expect(200);
    let hidden = t
        .send(a(post("/coupon/consume?code=ANNA-1&customer_id=bob")))
        .await;
    assert_eq!(shape(&hidden, "ANNA-1"), unknown);
    let details = t.send(a(get("/coupon?code=ANNA-1"))).await.json();
    assert_eq!(
        (
            details["customer_id"].clone(),
            details["redeemed_count"].clone()
        ),
        (json!("anna"), json!(1))
    );

    // A customer's codes, listed; nobody else's, no other tenant's.
    t.create_coupon(json!({"code": "ANNA-2", "customer_id": "anna"}))
        .await;
    t.create_coupon(json!({"code": "BOB-1", "customer_id": "bob"}))
        .await;
    let listed = t.send(a(get("/coupon?customer_id=anna"))).await.json();
    let codes: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ANNA-1", "ANNA-2"]);
    let page = t
        .send(a(get("/coupon?customer_id=anna&limit=1")))
        .await
        .json();
    assert_eq!(page["next_cursor"], "ANNA-1");
    let theirs = t
        .send(get("/coupon?customer_id=anna").token(&t.token_b))
        .await
        .json();
    assert_eq!(theirs["data"], json!([]));

    for body in [
        json!({"code": "HOT-1", "customer_id": "anna", "high_demand": true}),
        json!({"quantity": 1_001, "customer_id": "anna"}),
        json!({"code": "LONG-1", "customer_id": "c".repeat(129)}),
    ] {
        t.send(a(post("/coupon")).json(body))
            .await
            .assert_problem(422, "invalid_request");
    }
    t.send(a(get("/coupon?customer_id=anna&campaign_id=cmp_x")))
        .await
        .assert_problem(422, "invalid_request");
}

#[tokio::test]
async fn misses_on_someone_elses_code_count_against_guessing() {
    // Five misses per identity before its cool-down.
    let t = crate::rate_limits::guessing_app(1_000, 5, 5).await;
    t.create_coupon(json!({"code": "SECRET-1", "customer_id": "anna"}))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let guess = get("/coupon/consume?code=SECRET-1&customer_id=mallory");
        statuses.push(t.send(guess.token(&t.token_a)).await.status);
    }
    assert_eq!(statuses, [404, 404, 404, 404, 404, 429, 429, 429]);
    // The owner is another identity: untouched.
    let anna = t
        .send(get("/coupon/consume?code=SECRET-1&customer_id=anna").token(&t.token_a))
        .await;
    assert_eq!(anna.json()["valid"], true);
}

/// A campaign with `n` pool codes.
async fn pool(t: &TestApp, n: u32) -> String {
    let campaign = t
        .send(
            post("/campaigns")
                .token(&t.token_a)
                .json(json!({"name": "Referrals", "discount_percent": "15"})),
        )
        .await
        .string("campaign_id");
    let made = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"campaign_id": campaign, "quantity": n, "code_length": 10})),
        )
        .await;
    made.expect(201);
    campaign
}

fn assign(t: &TestApp, campaign: &str, customer: &str, source: Option<&str>) -> RequestBuilder {
    let mut body = json!({"campaign_id": campaign, "customer_id": customer});
    if let Some(source) = source {
        body["source_id"] = json!(source);
    }
    post("/coupon/assign").token(&t.token_a).json(body)
}

/// The claim: 200 concurrent assignments over a pool of 100 codes
/// give 100 codes to 100 customers, each once, and 100 `pool_empty`.
#[tokio::test]
async fn concurrent_assignments_never_hand_a_code_to_two_customers() {
    let t = TestApp::new().await;
    let campaign = pool(&t, 100).await;
    let answers = join_all((0..200).map(|i| {
        let (t, campaign) = (&t, &campaign);
        async move {
            let customer = format!("cust-{i:03}");
            let source = format!("ref-{i}");
            let answer = t.send(assign(t, campaign, &customer, Some(&source))).await;
            (customer, answer)
        }
    }))
    .await;
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut empty = 0;
    for (customer, answer) in &answers {
        match answer.status {
            201 => {
                let coupon = answer.json();
                assert_eq!(coupon["customer_id"], customer.as_str());
                let code = coupon["code"].as_str().unwrap().to_owned();
                let earlier = owners.insert(code.clone(), customer.clone());
                assert!(
                    earlier.is_none(),
                    "{code} went to {earlier:?} and {customer}"
                );
            }
            409 => {
                answer.assert_problem(409, "pool_empty");
                empty += 1;
            }
            other => panic!("{customer}: {other} {}", answer.text()),
        }
    }
    assert_eq!((owners.len(), empty), (100, 100));
    // As stored: each code is its one customer's, and the pool is empty.
    for (code, customer) in &owners {
        let stored = t
            .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
            .await
            .json();
        assert_eq!(stored["customer_id"], customer.as_str());
        let theirs = t
            .send(get(&format!("/coupon?customer_id={customer}")).token(&t.token_a))
            .await
            .json();
        assert_eq!(theirs["data"].as_array().unwrap().len(), 1, "{customer}");
    }
    t.send(assign(&t, &campaign, "late", None))
        .await
        .assert_problem(409, "pool_empty");
    // A winner's retry gets its code again, even with the pool empty.
    let (customer, first) = answers.iter().find(|(_, a)| a.status == 201).unwrap();
    let source = format!(
        "ref-{}",
        customer.trim_start_matches("cust-").parse::<u32>().unwrap()
    );
    let again = t.send(assign(&t, &campaign, customer, Some(&source))).await;
    again.expect(200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["code"], first.json()["code"]);
}

#[tokio::test]
async fn one_assignment_retried_at_once_takes_one_code() {
    let t = TestApp::with(Options {
        recent_coupon_ttl: Some(Duration::from_secs(60)),
        ..Options::default()
    })
    .await;
    let campaign = pool(&t, 5).await;
    let answers =
        join_all((0..10).map(|_| t.send(assign(&t, &campaign, "anna", Some("order-7"))))).await;
    let codes: BTreeSet<String> = answers
        .iter()
        .map(|a| {
            assert!(a.status == 201 || a.status == 200, "{}", a.text());
            a.json()["code"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(codes.len(), 1, "one code for one assignment: {codes:?}");
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 1);
    let anna_code = codes.into_iter().next().unwrap();
    let listed = t
        .send(get("/coupon?customer_id=anna").token(&t.token_a))
        .await
        .json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // Another source_id is another code; the same one for another campaign is refused.
    let second = t.send(assign(&t, &campaign, "anna", Some("order-8"))).await;
    second.expect(201);
    assert_ne!(second.json()["code"].as_str().unwrap(), anna_code);
    let other = pool(&t, 1).await;
    t.send(assign(&t, &other, "anna", Some("order-7")))
        .await
        .assert_problem(422, "invalid_request");

    // A pool code zoe validated (and the instance cached) is assigned to
    // bob meanwhile: zoe's consume is refused at its write, as unknown.
    let page = t
        .send(get(&format!("/coupon?campaign_id={campaign}")).token(&t.token_a))
        .await
        .json();
    let free: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["customer_id"].is_null())
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    for code in &free {
        let seen = t
            .send(get(&format!("/coupon/consume?code={code}&customer_id=zoe")).token(&t.token_a))
            .await;
        assert_eq!(seen.json()["valid"], true);
    }
    let bobs = t.send(assign(&t, &campaign, "bob", None)).await;
    bobs.expect(201);
    let bobs = bobs.json()["code"].as_str().unwrap().to_owned();
    assert!(free.contains(&bobs));
    let refused = t
        .send(post(&format!("/coupon/consume?code={bobs}&customer_id=zoe")).token(&t.token_a))
        .await;
    refused.assert_problem(404, "not_found");
    assert_eq!(refused.json()["detail"], format!("no coupon {bobs}"));
    let used = t
        .send(post(&format!("/coupon/consume?code={bobs}&customer_id=bob")).token(&t.token_a))
        .await;
    used.expect(200);

    for body in [
        json!({"campaign_id": campaign}),
        json!({"customer_id": "anna"}),
        json!({"customer_id": "anna", "campaign_id": campaign, "source_id": ""}),
        json!({"customer_id": "anna", "campaign_id": campaign, "prefix": "X"}),
    ] {
        t.send(post("/coupon/assign").token(&t.token_a).json(body))
            .await
            .assert_problem(422, "invalid_request");
    }
    t.send(assign(
        &t,
        "cmp_00000000000000000000000000000000",
        "anna",
        None,
    ))
    .await
    .assert_problem(404, "not_found");
    // Tenant B cannot draw from A's pool.
    let b = post("/coupon/assign")
        .token(&t.token_b)
        .json(json!({"campaign_id": campaign, "customer_id": "eve"}));
    t.send(b).await.assert_problem(404, "not_found");
}
