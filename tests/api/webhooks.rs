//! Webhooks: registered with a URL the SSRF rules allow, delivered signed
//! as Standard Webhooks says (checked by its reference library), retried
//! with the same `webhook-id`, disabled after failing for a day.

use serde_json::{Value, json};

use crate::event_stream::catch_all_hook;
use crate::helpers::*;
use crate::pipeline::{Pipeline, Receiver};

fn a(t: &TestApp, builder: RequestBuilder) -> RequestBuilder {
    builder.token(&t.token_a)
}

async fn consume(t: &TestApp, code: &str) -> String {
    let consumed = t
        .send(a(t, post("/coupon/consume")).json(json!({"code": code})))
        .await;
    consumed.expect(200);
    consumed.string("redemption_id")
}

/// The bodies a hook received, parsed, with whether each verified.
fn bodies(received: &[Value]) -> Vec<Value> {
    received
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_consume_reaches_the_receiver_signed_as_the_reference_library_checks() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    let receiver = Receiver::start();
    let created = t
        .send(a(&t, post("/webhooks")).json(json!({
            "url": receiver.url("shop"),
            "events": ["redemption.succeeded"],
            "description": "CRM"
        })))
        .await;
    created.expect(201);
    let hook = created.json();
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{hook}");
    assert_eq!(hook["events"], json!(["redemption.succeeded"]));
    assert_eq!(hook["status"], "enabled");
    receiver.control("/secret/shop", secret);
    let id = hook["id"].as_str().unwrap();
    // The secret is shown when made, never again.
    let shown = t.send(a(&t, get(&format!("/webhooks/{id}")))).await;
    assert!(shown.json().get("secret").is_none());
    assert!(!shown.text().contains(secret));

    t.create_coupon(json!({"code": "SIGNED", "availability_count": 2}))
        .await;
    let redemption = consume(&t, "SIGNED").await;
    pipeline.pump().await;
    assert_eq!(
        pipeline.deliver().await,
        1,
        "one wanted event, one delivery"
    );

    let received = receiver.received("shop");
    assert_eq!(received.len(), 1, "{received:?}");
    let delivery = &received[0];
    assert_eq!(delivery["verified"], json!([true]), "{delivery}");
    let body = &bodies(&received)[0];
    assert_eq!(body["type"], "redemption.succeeded");
    assert_eq!(body["data"]["redemption_id"], redemption.as_str());
    assert_eq!(delivery["headers"]["webhook-id"], body["id"]);
    assert_eq!(delivery["headers"]["content-type"], "application/json");
    let signature = delivery["headers"]["webhook-signature"].as_str().unwrap();
    assert!(signature.starts_with("v1,"));

    let deliveries = t
        .send(a(&t, get(&format!("/webhooks/{id}/deliveries"))))
        .await;
    deliveries.expect(200);
    let listed = &deliveries.json()["data"][0];
    assert_eq!(listed["event_id"], body["id"]);
    assert_eq!(listed["status_code"], 204);
    assert_eq!(listed["delivered"], true);
    assert_eq!(listed["attempt"], 1);
}

#[tokio::test]
async fn a_refused_delivery_comes_again_with_the_same_webhook_id() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1,1").await;
    let receiver = Receiver::start();
    let id = catch_all_hook(&t, &receiver.url("flaky")).await;
    receiver.control("/fail/flaky/1", "");
    t.create_coupon(json!({"code": "RETRY", "availability_count": 5}))
        .await;
    pipeline.pump().await;
    assert_eq!(pipeline.deliver_once().await, 1);
    // Hidden until its next attempt is due (1 s here).
    assert_eq!(pipeline.deliver_once().await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(pipeline.deliver().await, 1);

    let received = receiver.received("flaky");
    let statuses: Vec<&Value> = received.iter().map(|r| &r["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(204)]);
    assert_eq!(
        received[0]["headers"]["webhook-id"], received[1]["headers"]["webhook-id"],
        "the same event, the same id: receivers drop duplicates"
    );
    assert_eq!(received[0]["body"], received[1]["body"]);
    let listed = t
        .send(a(&t, get(&format!("/webhooks/{id}/deliveries"))))
        .await
        .json();
    let attempts: Vec<(&Value, &Value, bool)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                &d["attempt"],
                &d["status_code"],
                d["next_attempt_at"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (&json!(2), &json!(204), false),
            (&json!(1), &json!(500), true)
        ]
    );
    let hook = t.send(a(&t, get(&format!("/webhooks/{id}")))).await.json();
    assert_eq!(
        hook["failing_since"],
        Value::Null,
        "a delivery succeeded since"
    );
}

#[tokio::test]
async fn a_receiver_refusing_everything_for_long_enough_gets_its_webhook_disabled() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1,1,1,1").await;
    // A day, shortened to a second.
    pipeline.courier.disable_after = chrono::Duration::seconds(1);
    let receiver = Receiver::start();
    let id = catch_all_hook(&t, &receiver.url("down")).await;
    receiver.control("/fail/down/100", "");
    t.create_coupon(json!({"code": "DOWN-1"})).await;
    pipeline.pump().await;
    pipeline.deliver_once().await;
    let failing = t.send(a(&t, get(&format!("/webhooks/{id}")))).await.json();
    assert!(failing["failing_since"].is_string(), "{failing}");
    assert_eq!(failing["status"], "enabled");
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    pipeline.deliver().await;
    let disabled = t.send(a(&t, get(&format!("/webhooks/{id}")))).await.json();
    assert_eq!(disabled["status"], "disabled", "{disabled}");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("every delivery failed")
    );
    assert_eq!(
        receiver.received("down").len(),
        2,
        "no attempt after it was disabled"
    );
    // Events after that are not queued for it.
    t.create_coupon(json!({"code": "DOWN-2"})).await;
    let report = pipeline.pump().await;
    assert_eq!(report["events"], 1);
    assert_eq!(report["deliveries"], 0);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    let receiver = Receiver::start();
    let created = t
        .send(
            a(&t, post("/webhooks"))
                .json(json!({"url": receiver.url("rot"), "events": ["coupon.created"]})),
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    let rotated = t
        .send(a(&t, post(&format!("/webhooks/{id}/rotate-secret"))))
        .await;
    rotated.expect(200);
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, created["secret"].as_str().unwrap());
    assert!(rotated.json()["previous_secret_expires_at"].is_string());
    receiver.control("/secret/rot", created["secret"].as_str().unwrap());
    receiver.control("/secret/rot", &new_secret);
    t.create_coupon(json!({"code": "ROT-1"})).await;
    pipeline.pump().await;
    pipeline.deliver().await;
    let received = receiver.received("rot");
    assert_eq!(
        received[0]["verified"],
        json!([true, true]),
        "{:?}",
        received[0]
    );
    let signatures = received[0]["headers"]["webhook-signature"]
        .as_str()
        .unwrap();
    assert_eq!(signatures.split(' ').count(), 2);
    // Another tenant's webhook cannot be rotated.
    t.send(post(&format!("/webhooks/{id}/rotate-secret")).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn webhooks_are_listed_read_deleted_and_capped_per_tenant() {
    // Loopback URLs (allowed here, as in make dev): no DNS needed.
    let t = TestApp::new().await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for n in 0..16 {
            let created = t
                .send(a(&t, post("/webhooks")).form(&[
                    ("url", &format!("http://127.0.0.1:9/{n}")),
                    ("events", "coupon.created,job.completed"),
                ]))
                .await;
            created.expect(201);
            assert_eq!(
                created.json()["events"],
                json!(["coupon.created", "job.completed"])
            );
            ids.push(created.string("id"));
        }
        ids
    };
    t.send(a(&t, post("/webhooks")).json(json!({"url": "http://127.0.0.1:9/17", "events": ["*"]})))
        .await
        .assert_problem(409, "too_many_webhooks");
    let listed = t.send(a(&t, get("/webhooks"))).await.json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 16);
    assert!(
        listed.to_string().find("whsec_").is_none(),
        "secrets are never listed"
    );
    // Tenant B sees none of them.
    let theirs = t.send(get("/webhooks").token(&t.token_b)).await.json();
    assert_eq!(theirs["data"], json!([]));
    t.send(get(&format!("/webhooks/{}", ids[0])).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
    t.send(delete(&format!("/webhooks/{}", ids[0])).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
    t.send(get(&format!("/webhooks/{}/deliveries", ids[0])).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
    // A delete makes room; deleting again is a 404.
    t.send(a(&t, delete(&format!("/webhooks/{}", ids[0]))))
        .await
        .expect(204);
    t.send(a(&t, delete(&format!("/webhooks/{}", ids[0]))))
        .await
        .assert_problem(404, "not_found");
    t.send(a(&t, post("/webhooks")).json(json!({"url": "http://127.0.0.1:9/17", "events": ["*"]})))
        .await
        .expect(201);
}

#[tokio::test]
async fn bad_registrations_are_refused_with_nothing_stored() {
    let t = TestApp::new().await;
    let refusals = [
        json!({"url": "https://hooks.example.com/x"}),
        json!({"url": "https://hooks.example.com/x", "events": []}),
        json!({"url": "https://hooks.example.com/x", "events": ["coupon.redeemed"]}),
        json!({"url": "https://hooks.example.com/x", "events": ["*", "job.completed"]}),
        json!({"url": "not a url", "events": ["*"]}),
        json!({"url": "ftp://hooks.example.com/x", "events": ["*"]}),
        json!({"url": "https://hooks.example.com/x", "events": ["*"], "description": "x".repeat(501)}),
        json!({"url": "https://hooks.example.com/x", "events": ["*"], "secret": "mine"}),
    ];
    for body in refusals {
        let answer = t.send(a(&t, post("/webhooks")).json(body.clone())).await;
        answer.assert_problem(422, "invalid_request");
    }
    assert_eq!(
        t.send(a(&t, get("/webhooks"))).await.json()["data"],
        json!([])
    );
    t.send(a(&t, get("/webhooks/wh_000000000000000000000000")))
        .await
        .assert_problem(404, "not_found");
    t.send(a(&t, get("/webhooks/not-an-id/deliveries")))
        .await
        .assert_problem(404, "not_found");
}

/// Every kind of address the SSRF rules refuse, at registration (the
/// functions as deployed: loopback refused too) and at delivery.
#[tokio::test]
async fn urls_reaching_the_services_own_network_are_refused() {
    let mut t = TestApp::new().await;
    t.webhook_policy = common::ssrf::AddressPolicy::default();
    let cases = [
        ("http://hooks.example.com/x", "must be https"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://localhost/x", "loopback"),
        ("https://10.1.2.3/x", "private"),
        ("https://172.16.0.1/x", "private"),
        ("https://192.168.1.1/x", "private"),
        ("https://[fd12::1]/x", "private"),
        ("https://169.254.10.10/x", "link-local"),
        ("https://[fe80::1]/x", "link-local"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "cloud metadata",
        ),
        ("https://[fd00:ec2::254]/x", "cloud metadata"),
        ("https://[::ffff:127.0.0.1]/x", "loopback"),
        ("https://0.0.0.0/x", "unspecified"),
        (
            "https://user:secret@hooks.example.com/x",
            "user name or password",
        ),
    ];
    for (url, why) in cases {
        let answer = t
            .send(a(&t, post("/webhooks")).json(json!({"url": url, "events": ["*"]})))
            .await;
        answer.assert_problem(422, "invalid_request");
        let detail = answer.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with("url: ") && detail.contains(why),
            "{url}: {detail}"
        );
    }
    assert_eq!(
        t.send(a(&t, get("/webhooks"))).await.json()["data"],
        json!([])
    );

    // Registered where loopback was allowed (make dev), then delivered by
    // a function that does not allow it: refused at delivery, nothing sent.
    t.webhook_policy.allow_loopback = true;
    let mut pipeline = Pipeline::new(&t, "1").await;
    pipeline.courier.policy = common::ssrf::AddressPolicy::default();
    let receiver = Receiver::start();
    let id = catch_all_hook(&t, &receiver.url("inside")).await;
    t.create_coupon(json!({"code": "SSRF-1"})).await;
    pipeline.pump().await;
    pipeline.deliver_once().await;
    assert_eq!(receiver.received("inside"), Vec::<Value>::new());
    let listed = t
        .send(a(&t, get(&format!("/webhooks/{id}/deliveries"))))
        .await
        .json();
    let error = listed["data"][0]["error"].as_str().unwrap();
    assert!(error.contains("loopback"), "{error}");
    assert_eq!(listed["data"][0]["status_code"], Value::Null);
}

/// The cap holds under concurrent registrations: the count is changed in
/// the same transaction as the webhook, on a condition, never read and
/// written back.
#[tokio::test]
async fn concurrent_registrations_never_pass_the_cap() {
    let t = TestApp::new().await;
    let answers = futures_util::future::join_all((0..40).map(|n| {
        let body = json!({"url": format!("http://127.0.0.1:9/{n}"), "events": ["*"]});
        t.send(a(&t, post("/webhooks")).json(body))
    }))
    .await;
    let created: Vec<String> = answers
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.string("id"))
        .collect();
    let refused = answers.iter().filter(|r| r.status == 409).count();
    assert_eq!((created.len(), refused), (16, 24));
    let listed = t.send(a(&t, get("/webhooks"))).await.json();
    assert_eq!(listed["count"], 16);
    // Deleted at once, every one: the count goes back to zero, not below.
    let deleted = futures_util::future::join_all(
        created
            .iter()
            .map(|id| t.send(a(&t, delete(&format!("/webhooks/{id}"))))),
    )
    .await;
    assert!(deleted.iter().all(|r| r.status == 204));
    for n in 0..16 {
        t.send(
            a(&t, post("/webhooks"))
                .json(json!({"url": format!("http://127.0.0.1:9/again-{n}"), "events": ["*"]})),
        )
        .await
        .expect(201);
    }
    t.send(
        a(&t, post("/webhooks"))
            .json(json!({"url": "http://127.0.0.1:9/one-more", "events": ["*"]})),
    )
    .await
    .assert_problem(409, "too_many_webhooks");
}
