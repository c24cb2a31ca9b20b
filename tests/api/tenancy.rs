//! A token belongs to one tenant: another tenant's objects look missing on
//! every route and verb, and nothing it does touches them.

use std::collections::BTreeMap;

use chrono::Utc;
use common::store::WebhookStore;
use serde_json::{Value, json};

use crate::helpers::*;

/// What tenant B should get on a route that names one of A's objects.
enum Expect {
    /// 404 `not_found`.
    NotFound,
    /// 200 with an empty `data` list (a listing of B's own objects).
    EmptyList,
    /// 200 (a route that holds no tenant data).
    Ok,
    /// 422 `invalid_request`: a cursor that names another tenant's object.
    Refused,
    /// 201: B makes its own object (in B's tenant only).
    Created,
    /// 200 with figures of zero (B's own, though A's days have some).
    NoFigures,
}

/// The key tenant A's consume carried: kept per tenant, so B sending the
/// same key must not get A's answer replayed.
const IDEMPOTENCY_KEY: &str = "order-0001";

/// Tenant A's objects, made through the API.
struct Objects {
    code: String,
    /// A consume of `code`, not rolled back: a rollback target.
    redemption: String,
    /// A held reservation of `code`.
    reservation: String,
    /// A bulk generation job (more than 1,000 codes), not run.
    job: String,
    /// A cursor into A's export list (A has two exports).
    export_cursor: String,
    /// A campaign, of which `code`'s twin `campaign_code` is a code.
    campaign: String,
    /// A cursor into A's campaign list (A has two campaigns).
    campaign_cursor: String,
    /// A cursor into A's redemption log (A has two rows).
    log_cursor: String,
    /// A webhook of A's.
    webhook: String,
}

async fn make_objects(t: &TestApp) -> Objects {
    let code = t
        .create_coupon(json!({"code": "TENANT-A-ONLY", "availability_count": 5}))
        .await;
    let consumed = t
        .send(
            post(&format!("/coupon/consume?code={code}"))
                .token(&t.token_a)
                .header("idempotency-key", IDEMPOTENCY_KEY),
        )
        .await;
    let redemption = consumed.expect(200).string("redemption_id");
    // A second row of A's log, by alice, on alice's personal code.
    let personal = t
        .create_coupon(json!({"code": "TENANT-A-ALICE", "customer_id": "alice"}))
        .await;
    t.send(
        post(&format!(
            "/coupon/consume?code={personal}&customer_id=alice"
        ))
        .token(&t.token_a),
    )
    .await
    .expect(200);
    // A's two consumes counted in A's figures, from the stream.
    crate::pipeline::Pipeline::new(t, "1").await.pump().await;
    let figures = t.send(get("/stats").token(&t.token_a)).await.json();
    assert_eq!(figures["totals"]["redemptions"], 2, "{figures}");
    let page = t
        .send(get("/redemptions?limit=1").token(&t.token_a))
        .await
        .json();
    let log_cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let held = t
        .send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": code, "customer_id": "alice"})),
        )
        .await;
    let reservation = held.expect(201).string("reservation_id");
    let job = t.start_job(json!({"quantity": 1_001})).await;
    for _ in 0..2 {
        assert_eq!(crate::exports::export_today(t).await.status, 201);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let page = t
        .send(get("/exports?limit=1").token(&t.token_a))
        .await
        .json();
    let export_cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let mut campaigns = Vec::new();
    for name in ["A's first", "A's second"] {
        let made = t
            .send(
                post("/campaigns")
                    .token(&t.token_a)
                    .json(json!({"name": name, "budget_uses": 10})),
            )
            .await;
        campaigns.push(made.expect(201).string("campaign_id"));
    }
    t.create_coupon(json!({"code": "TENANT-A-CAMPAIGN", "campaign_id": campaigns[1]}))
        .await;
    let page = t
        .send(get("/campaigns?limit=1").token(&t.token_a))
        .await
        .json();
    let campaign_cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let hook = t
        .send(post("/webhooks").token(&t.token_a).json(json!({
            "url": "http://127.0.0.1:9/a-only", "events": ["*"]
        })))
        .await;
    let webhook = hook.expect(201).string("id");
    Objects {
        webhook,
        code,
        redemption,
        reservation,
        job,
        export_cursor,
        campaign: campaigns.pop().unwrap(),
        campaign_cursor,
        log_cursor,
    }
}

/// Everything tenant A can see of its objects, as A sees it (export links
/// are signed afresh on every listing, so only their keys are compared).
async fn snapshot(t: &TestApp, o: &Objects) -> Value {
    let mut seen = serde_json::Map::new();
    for path in [
        format!("/coupon?code={}", o.code),
        "/coupon".to_owned(),
        format!("/coupon/reserve/{}", o.reservation),
        format!("/coupon/jobs/{}", o.job),
        format!("/coupon/jobs/{}/codes", o.job),
        format!("/coupon/jobs/{}/skipped", o.job),
        "/campaigns".to_owned(),
        format!("/campaigns/{}", o.campaign),
        format!("/coupon?campaign_id={}", o.campaign),
        "/coupon?customer_id=alice".to_owned(),
        "/redemptions".to_owned(),
        format!("/redemptions/{}", o.redemption),
        "/webhooks".to_owned(),
        format!("/webhooks/{}", o.webhook),
        format!("/webhooks/{}/deliveries", o.webhook),
    ] {
        let response = t.send(get(&path).token(&t.token_a)).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        seen.insert(path, response.json());
    }
    let exports = t.send(get("/exports").token(&t.token_a)).await.json();
    let keys: Vec<Value> = exports["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["key"], e["rows"], e["created_at"]]))
        .collect();
    seen.insert("/exports".into(), Value::Array(keys));
    let mut rows: Vec<String> = t
        .redemption_rows(Utc::now())
        .await
        .iter()
        .map(|row| format!("{:?}", row.iter().collect::<BTreeMap<_, _>>()))
        .collect();
    rows.sort();
    seen.insert("redemption log".into(), json!(rows));
    // The secret is never shown again: read it from the store.
    let hook = common::webhook::WebhookId::parse(&o.webhook).unwrap();
    let stored = t
        .app()
        .store
        .get_webhook(&t.tenant_a, &hook)
        .await
        .unwrap()
        .unwrap();
    seen.insert("webhook secret".into(), json!(stored.secret.expose()));
    Value::Object(seen)
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn another_tenant_gets_404_on_every_route_and_changes_nothing() {
    let t = TestApp::new().await;
    let o = make_objects(&t).await;
    let before = snapshot(&t, &o).await;
    let b = &t.token_b;
    let (code, redemption, reservation, job) = (&o.code, &o.redemption, &o.reservation, &o.job);

    // (operationId in openapi.yaml, request with B's token, expectation)
    let matrix = [
        ("ping", get("/ping").token(b), Expect::Ok),
        ("getStats", get("/stats").token(b), Expect::NoFigures),
        ("getConsole", get("/console/").token(b), Expect::Ok),
        (
            "getConsoleAsset",
            get("/console/app.js").token(b),
            Expect::Ok,
        ),
        (
            "getCoupons (list)",
            get("/coupon").token(b),
            Expect::EmptyList,
        ),
        (
            "getCoupons (details)",
            get(&format!("/coupon?code={code}")).token(b),
            Expect::NotFound,
        ),
        (
            "updateCoupon",
            put(&format!("/coupon/{code}"))
                .token(b)
                .json(json!({"availability_count": 100})),
            Expect::NotFound,
        ),
        (
            "deleteCoupon",
            delete(&format!("/coupon/{code}")).token(b),
            Expect::NotFound,
        ),
        (
            "validateCoupon",
            get(&format!("/coupon/consume?code={code}")).token(b),
            Expect::NotFound,
        ),
        (
            "consumeCoupon",
            post(&format!("/coupon/consume?code={code}")).token(b),
            Expect::NotFound,
        ),
        (
            "consumeCoupon (A's reservation)",
            post(&format!(
                "/coupon/consume?code={code}&reservation_id={reservation}"
            ))
            .token(b),
            Expect::NotFound,
        ),
        (
            "consumeCoupon (A's idempotency key)",
            post(&format!("/coupon/consume?code={code}"))
                .token(b)
                .header("idempotency-key", IDEMPOTENCY_KEY),
            Expect::NotFound,
        ),
        (
            "rollBackRedemption",
            post(&format!("/coupon/consume/{redemption}/rollback")).token(b),
            Expect::NotFound,
        ),
        (
            "reserveCoupon",
            post("/coupon/reserve")
                .token(b)
                .json(json!({"code": code, "customer_id": "mallory"})),
            Expect::NotFound,
        ),
        (
            "getReservation",
            get(&format!("/coupon/reserve/{reservation}")).token(b),
            Expect::NotFound,
        ),
        (
            "releaseReservation",
            delete(&format!("/coupon/reserve/{reservation}")).token(b),
            Expect::NotFound,
        ),
        (
            "getJob",
            get(&format!("/coupon/jobs/{job}")).token(b),
            Expect::NotFound,
        ),
        (
            "getJobCodes",
            get(&format!("/coupon/jobs/{job}/codes")).token(b),
            Expect::NotFound,
        ),
        (
            "getJobCodes (cursor)",
            get(&format!("/coupon/jobs/{job}/codes?cursor=0")).token(b),
            Expect::NotFound,
        ),
        (
            "getJobSkipped",
            get(&format!("/coupon/jobs/{job}/skipped")).token(b),
            Expect::NotFound,
        ),
        ("listExports", get("/exports").token(b), Expect::EmptyList),
        (
            "listExports (A's cursor)",
            get(&format!("/exports?cursor={}", urlencode(&o.export_cursor))).token(b),
            Expect::Refused,
        ),
        (
            "listCampaigns",
            get("/campaigns").token(b),
            Expect::EmptyList,
        ),
        (
            "listCampaigns (A's cursor)",
            get(&format!("/campaigns?cursor={}", o.campaign_cursor)).token(b),
            Expect::EmptyList,
        ),
        (
            "getCampaign",
            get(&format!("/campaigns/{}", o.campaign)).token(b),
            Expect::NotFound,
        ),
        (
            "updateCampaign",
            put(&format!("/campaigns/{}", o.campaign))
                .token(b)
                .json(json!({"active": false})),
            Expect::NotFound,
        ),
        (
            "deleteCampaign",
            delete(&format!("/campaigns/{}", o.campaign)).token(b),
            Expect::NotFound,
        ),
        (
            "exportCampaignCodes",
            post(&format!("/campaigns/{}/codes-export", o.campaign)).token(b),
            Expect::NotFound,
        ),
        (
            "importCampaignCodes",
            post(&format!("/campaigns/{}/import", o.campaign))
                .token(b)
                .raw("text/csv", "MALLORY-1\n"),
            Expect::NotFound,
        ),
        (
            "deleteCampaignCodes",
            delete(&format!("/campaigns/{}/codes", o.campaign)).token(b),
            Expect::NotFound,
        ),
        (
            "getCoupons (A's campaign)",
            get(&format!("/coupon?campaign_id={}", o.campaign)).token(b),
            Expect::NotFound,
        ),
        (
            "createCoupons (A's campaign)",
            post("/coupon")
                .token(b)
                .json(json!({"campaign_id": o.campaign})),
            Expect::NotFound,
        ),
        (
            "createCampaign",
            post("/campaigns").token(b).json(json!({"name": "B's own"})),
            Expect::Created,
        ),
        (
            "getCoupons (A's customer)",
            get("/coupon?customer_id=alice").token(b),
            Expect::EmptyList,
        ),
        (
            "assignCoupon (A's campaign)",
            post("/coupon/assign")
                .token(b)
                .json(json!({"campaign_id": o.campaign, "customer_id": "mallory"})),
            Expect::NotFound,
        ),
        (
            "listRedemptions",
            get("/redemptions").token(b),
            Expect::EmptyList,
        ),
        (
            "listRedemptions (A's code)",
            get(&format!("/redemptions?code={code}")).token(b),
            Expect::EmptyList,
        ),
        (
            "listRedemptions (A's customer)",
            get("/redemptions?customer_id=alice").token(b),
            Expect::EmptyList,
        ),
        (
            "listRedemptions (A's campaign)",
            get(&format!("/redemptions?campaign_id={}", o.campaign)).token(b),
            Expect::EmptyList,
        ),
        (
            "listRedemptions (A's cursor)",
            get(&format!("/redemptions?cursor={}", urlencode(&o.log_cursor))).token(b),
            Expect::Refused,
        ),
        (
            "getRedemption",
            get(&format!("/redemptions/{redemption}")).token(b),
            Expect::NotFound,
        ),
        ("listWebhooks", get("/webhooks").token(b), Expect::EmptyList),
        (
            "getWebhook",
            get(&format!("/webhooks/{}", o.webhook)).token(b),
            Expect::NotFound,
        ),
        (
            "deleteWebhook",
            delete(&format!("/webhooks/{}", o.webhook)).token(b),
            Expect::NotFound,
        ),
        (
            "rotateWebhookSecret",
            post(&format!("/webhooks/{}/rotate-secret", o.webhook)).token(b),
            Expect::NotFound,
        ),
        (
            "listWebhookDeliveries",
            get(&format!("/webhooks/{}/deliveries", o.webhook)).token(b),
            Expect::NotFound,
        ),
        (
            "createWebhook (B's own)",
            post("/webhooks")
                .token(b)
                .json(json!({"url": "http://127.0.0.1:9/b", "events": ["*"]})),
            Expect::Created,
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (route, request, expect) in matrix {
        covered.insert(route.split(' ').next().unwrap());
        let response = t.send(request).await;
        match expect {
            Expect::NotFound => {
                assert_eq!(
                    (response.status, response.json()["code"].clone()),
                    (404, json!("not_found")),
                    "{route}: tenant B must get 404 for tenant A's object: {}",
                    response.text()
                );
                response.assert_problem(404, "not_found");
            }
            Expect::EmptyList => {
                assert_eq!(
                    (response.status, response.json()["data"].clone()),
                    (200, json!([])),
                    "{route}: tenant B must list none of tenant A's objects: {}",
                    response.text()
                );
            }
            Expect::Ok => assert_eq!(response.status, 200, "{route}"),
            Expect::Refused => response.assert_problem(422, "invalid_request"),
            Expect::Created => assert_eq!(response.status, 201, "{route}: {}", response.text()),
            Expect::NoFigures => {
                let totals = response.json()["totals"].clone();
                assert_eq!(
                    (response.status, totals),
                    (
                        200,
                        json!({"redemptions": 0, "reversals": 0, "discount": []})
                    ),
                    "{route}: tenant B sees none of tenant A's figures"
                );
            }
        }
    }

    // createExport: B's export holds B's (no) rows under B's prefix.
    let export = t
        .send(post("/exports").token(b).json(json!({"from": Utc::now().format("%Y-%m-%d").to_string(), "to": Utc::now().format("%Y-%m-%d").to_string()})))
        .await;
    assert_eq!(export.status, 201, "createExport: {}", export.text());
    let export = export.json();
    assert!(
        export["key"]
            .as_str()
            .unwrap()
            .starts_with("exports/tenant-b/"),
        "createExport: B's export must be under B's prefix: {export}"
    );
    assert_eq!(export["rows"], 0, "createExport: B has no redemptions");
    covered.insert("createExport");

    // createCoupons with A's code: B gets its own, independent coupon.
    let own = t
        .send(post("/coupon").token(b).json(json!({"code": code})))
        .await;
    assert_eq!(
        own.status,
        201,
        "createCoupons: codes are per tenant: {}",
        own.text()
    );
    let theirs = t
        .send(get(&format!("/coupon?code={code}")).token(b))
        .await
        .json();
    assert_eq!(
        (
            theirs["redeemed_count"].clone(),
            theirs["reserved_count"].clone()
        ),
        (json!(0), json!(0)),
        "createCoupons: B's coupon shares nothing with A's: {theirs}"
    );
    // B using its own coupon of the same code leaves A's alone.
    let used = t
        .send(post(&format!("/coupon/consume?code={code}")).token(b))
        .await;
    used.expect(200);
    assert_eq!(
        t.send(delete(&format!("/coupon/{code}")).token(b))
            .await
            .status,
        204,
        "deleteCoupon of B's own coupon"
    );
    covered.insert("createCoupons");

    // Every operation in openapi.yaml was tried.
    let openapi: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap(),
    )
    .unwrap();
    let mut documented = std::collections::BTreeSet::new();
    for (_, item) in openapi["paths"].as_mapping().unwrap() {
        for (method, operation) in item.as_mapping().unwrap() {
            if method.as_str() != Some("parameters") {
                documented.insert(operation["operationId"].as_str().unwrap().to_owned());
            }
        }
    }
    let covered: std::collections::BTreeSet<String> =
        covered.into_iter().map(str::to_owned).collect();
    assert_eq!(covered, documented, "every route and verb is in the matrix");

    assert_eq!(
        snapshot(&t, &o).await,
        before,
        "tenant A's objects are unchanged"
    );
    // A can still use all of them.
    let rolled_back = t
        .send(post(&format!("/coupon/consume/{redemption}/rollback")).token(&t.token_a))
        .await;
    rolled_back.expect(200);
    let converted = t
        .send(
            post(&format!(
                "/coupon/consume?code={code}&reservation_id={reservation}"
            ))
            .token(&t.token_a),
        )
        .await;
    converted.expect(200);

    crate::auth::assert_no_clear_tokens(&t).await;
}
