//! What the functions write for CloudWatch: one JSON `request` log line per
//! request and one embedded-metric-format line beside it, and never a token.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::helpers::*;

/// Everything written through a capture, shared with the test.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The JSON lines written so far.
    pub fn json_lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One request as the test sent it: the id the response reports, and the
/// route, outcome and tenant its log line must show.
struct Sent {
    request_id: String,
    route: &'static str,
    outcome: &'static str,
    tenant: Option<&'static str>,
}

// The handlers run on this test's thread (a current-thread runtime), where
// the capture is in force.
#[tokio::test]
async fn logs_and_metrics_describe_each_request_without_secrets() {
    // A burst of 5 at 1/s: the run below gets its 429 within a few requests.
    let t = TestApp::with(Options {
        rate: (1, 5),
        ..Options::default()
    })
    .await;
    let unknown_token = format!("cms_{}", uuid::Uuid::new_v4().simple());
    let captured = Captured::default();
    let capture = common::telemetry::scoped_with_writer({
        let captured = captured.clone();
        move || captured.clone()
    });

    let mut sent = Vec::new();
    let mut record = |response: &TestResponse, route, outcome, tenant| {
        sent.push(Sent {
            request_id: response.header("x-request-id").unwrap().to_owned(),
            route,
            outcome,
            tenant,
        });
    };
    let created = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"availability_count": 1})),
        )
        .await;
    created.expect(201);
    record(&created, "POST /coupon", "ok", Some("tenant-a"));
    let code = created.string("code");

    let validated = t
        .send(get(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await;
    assert_eq!(validated.json()["valid"], true);
    record(&validated, "GET /coupon/consume", "ok", Some("tenant-a"));

    let consumed = t
        .send(post(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await;
    consumed.expect(200);
    record(&consumed, "POST /coupon/consume", "ok", Some("tenant-a"));

    let refused = t
        .send(post(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await;
    refused.assert_problem(409, "exhausted");
    record(
        &refused,
        "POST /coupon/consume",
        "exhausted",
        Some("tenant-a"),
    );

    let details = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await;
    details.expect(200);
    record(&details, "GET /coupon", "ok", Some("tenant-a"));

    let stranger = t.send(get("/coupon?limit=1").token(&unknown_token)).await;
    stranger.assert_problem(401, "unauthorized");
    record(&stranger, "GET /coupon", "unauthorized", None);

    let mut limited = None;
    for _ in 0..30 {
        let response = t.send(get("/coupon?limit=1").token(&t.token_a)).await;
        if response.status == 429 {
            limited = Some(response);
            break;
        }
        response.expect(200);
        record(&response, "GET /coupon", "ok", Some("tenant-a"));
    }
    let limited = limited.expect("a 429 within 30 requests at 1/s with a burst of 5");
    limited.assert_problem(429, "rate_limited");
    record(&limited, "GET /coupon", "rate_limited", Some("tenant-a"));
    drop(capture);

    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // No secret anywhere, in whatever line.
    for secret in [&t.token_a, &t.token_b, &unknown_token] {
        assert!(!output.contains(secret.as_str()), "a token in:\n{output}");
    }
    assert!(!output.contains("Bearer "), "Bearer in:\n{output}");
    assert!(
        !output.to_lowercase().contains("authorization"),
        "an Authorization header in:\n{output}"
    );

    let mut requests: HashMap<String, Value> = HashMap::new();
    let mut metrics: HashMap<String, Value> = HashMap::new();
    for line in output.lines() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a line that is not JSON ({e}): {line}"));
        if value.get("_aws").is_some() {
            check_emf(&value);
            let id = value["RequestId"].as_str().expect("RequestId").to_owned();
            assert!(metrics.insert(id, value).is_none(), "two metric lines");
        } else if value["fields"]["message"] == "request" {
            let fields = value["fields"].clone();
            let id = fields["request_id"]
                .as_str()
                .expect("request_id")
                .to_owned();
            assert!(requests.insert(id, fields).is_none(), "two request lines");
        }
    }
    assert_eq!(requests.len(), sent.len(), "{output}");
    assert_eq!(metrics.len(), sent.len(), "{output}");

    for s in &sent {
        let log = &requests[&s.request_id];
        assert_eq!(log["route"], s.route, "{log}");
        assert_eq!(log["outcome"], s.outcome, "{log}");
        assert_eq!(log["tenant"].as_str(), s.tenant, "{log}");
        let latency = log["latency_ms"].as_f64().expect("latency_ms");
        assert!((0.0..60_000.0).contains(&latency), "{log}");
        assert!(log["status"].is_u64() && log["method"].is_string() && log["path"].is_string());

        let emf = &metrics[&s.request_id];
        assert_eq!(emf["Route"], s.route, "{emf}");
        assert_eq!(emf["Outcome"], s.outcome, "{emf}");
        assert_eq!(emf["TenantId"].as_str(), s.tenant, "{emf}");
        assert_eq!(emf["Status"], log["status"], "{emf}");
        let emf_latency = emf["Latency"].as_f64().unwrap();
        assert!((emf_latency - latency).abs() < 0.01, "{emf} vs {log}");
        let names = metric_names(emf);
        match s.outcome {
            "ok" if s.route == "POST /coupon/consume" => {
                assert_eq!(names, ["Latency", "Consumed"], "{emf}");
                assert_eq!(emf["Consumed"], 1);
                assert_eq!(dimensions_of(emf, "Consumed"), [vec!["Route"]]);
            }
            "exhausted" => {
                assert_eq!(names, ["Latency", "Refused"], "{emf}");
                assert_eq!(emf["Refused"], 1);
                assert_eq!(emf["Reason"], "exhausted");
                assert_eq!(dimensions_of(emf, "Refused"), [vec!["Reason"]]);
            }
            "rate_limited" => {
                assert_eq!(names, ["Latency", "RateLimited"], "{emf}");
                assert_eq!(emf["RateLimited"], 1);
                assert_eq!(emf["Code"], "rate_limited");
                assert_eq!(dimensions_of(emf, "RateLimited"), [vec!["Code"]]);
            }
            _ => assert_eq!(names, ["Latency"], "{emf}"),
        }
        assert_eq!(dimensions_of(emf, "Latency"), [vec!["Route"]]);
    }
}

/// The structure CloudWatch requires of an embedded-metric-format line:
/// every dimension a string and every metric a number at the top level.
fn check_emf(value: &Value) {
    let aws = &value["_aws"];
    assert!(
        aws["Timestamp"].as_u64().unwrap() > 1_700_000_000_000,
        "{value}"
    );
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty());
    for directive in directives {
        assert_eq!(directive["Namespace"], "CouponService", "{value}");
        for set in directive["Dimensions"].as_array().unwrap() {
            for dimension in set.as_array().unwrap() {
                let key = dimension.as_str().unwrap();
                assert!(value[key].is_string(), "dimension {key} in {value}");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(value[name].is_number(), "metric {name} in {value}");
            assert!(metric["Unit"].is_string());
        }
    }
}

fn metric_names(value: &Value) -> Vec<&str> {
    value["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["Metrics"].as_array().unwrap())
        .map(|m| m["Name"].as_str().unwrap())
        .collect()
}

fn dimensions_of<'a>(value: &'a Value, metric: &str) -> Vec<Vec<&'a str>> {
    let directive = value["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Name"] == metric)
        })
        .unwrap();
    directive["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| {
            set.as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap())
                .collect()
        })
        .collect()
}
