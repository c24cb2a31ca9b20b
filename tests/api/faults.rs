//! Faults between the functions and DynamoDB: an HTTP client that, once
//! switched on, fails a share of the SDK's calls the ways AWS calls fail
//! (throttling, 500s, timeouts, and connections dropped after the request
//! went out, so the write may have happened). Consume must answer only 200,
//! 409 or 503, and lose or double nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use chrono::Utc;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

const KINDS: [&str; 4] = [
    "throttled",
    "internal error",
    "timeout",
    "dropped after sending",
];

/// Wraps the SDK's HTTP client; off until `switch_on`.
#[derive(Debug, Clone)]
pub struct Faults {
    rate: f64,
    on: Arc<AtomicBool>,
    /// Calls seen while on, and faults injected by kind.
    calls: Arc<AtomicU64>,
    injected: Arc<[AtomicU64; 4]>,
    inner: Option<SharedHttpClient>,
}

impl Faults {
    pub fn new(rate: f64) -> Faults {
        Faults {
            rate,
            on: Arc::default(),
            calls: Arc::default(),
            injected: Arc::default(),
            inner: None,
        }
    }

    /// This fault plan around `inner`, the client the SDK would use.
    pub fn around(&self, inner: SharedHttpClient) -> Faults {
        Faults {
            inner: Some(inner),
            ..self.clone()
        }
    }

    pub fn switch_on(&self) {
        self.on.store(true, Ordering::SeqCst);
    }

    pub fn switch_off(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    fn injected(&self) -> [u64; 4] {
        std::array::from_fn(|i| self.injected[i].load(Ordering::SeqCst))
    }
}

impl HttpClient for Faults {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let inner = self
            .inner
            .as_ref()
            .expect("Faults::around gives the real client")
            .http_connector(settings, components);
        SharedHttpConnector::new(FaultyConnector {
            faults: self.clone(),
            inner,
        })
    }
}

#[derive(Debug)]
struct FaultyConnector {
    faults: Faults,
    inner: SharedHttpConnector,
}

/// An AWS JSON error response, as DynamoDB sends one.
fn error_response(status: u16, kind: &str) -> Response<SdkBody> {
    let body = json!({"__type": kind, "message": "injected by the fault test"}).to_string();
    let mut response = Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
}

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let faults = &self.faults;
        if !faults.on.load(Ordering::SeqCst) {
            return self.inner.call(request);
        }
        faults.calls.fetch_add(1, Ordering::SeqCst);
        if rand::random::<f64>() >= faults.rate {
            return self.inner.call(request);
        }
        let kind = rand::random_range(0..KINDS.len());
        faults.injected[kind].fetch_add(1, Ordering::SeqCst);
        match kind {
            0 => HttpConnectorFuture::ready(Ok(error_response(
                400,
                "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            ))),
            1 => HttpConnectorFuture::ready(Ok(error_response(
                500,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
            ))),
            2 => {
                HttpConnectorFuture::ready(Err(ConnectorError::timeout("injected timeout".into())))
            }
            _ => {
                // The request reaches DynamoDB; only its answer is lost.
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _ = sent.await;
                    Err(ConnectorError::io(
                        "injected: connection dropped after sending".into(),
                    ))
                })
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumes_under_injected_faults_lose_and_double_nothing() {
    const USES: u64 = 200;
    const BUYERS: usize = 500;
    const TRIES: usize = 40;
    let faults = Faults::new(0.2);
    let t = TestApp::with(Options {
        faults: Some(faults.clone()),
        rate: (100_000, 100_000),
        ..Options::default()
    })
    .await;
    let code = t.create_coupon(json!({"availability_count": USES})).await;

    faults.switch_on();
    // Each buyer retries a 503 with the same Idempotency-Key, as a client
    // should: a consume whose answer was lost is then answered, not redone.
    let buyers = (0..BUYERS).map(|buyer| {
        let t = &t;
        let code = &code;
        async move {
            let mut answers = Vec::new();
            for _ in 0..TRIES {
                let response = t
                    .send(
                        post(&format!("/coupon/consume?code={code}"))
                            .token(&t.token_a)
                            .header("Idempotency-Key", &format!("buyer-{buyer}")),
                    )
                    .await;
                let done = response.status != 503;
                answers.push(response);
                if done {
                    break;
                }
            }
            answers
        }
    });
    let answers = join_all(buyers).await;
    faults.switch_off();

    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for response in answers.iter().flatten() {
        *statuses.entry(response.status).or_default() += 1;
    }
    let injected = faults.injected();
    println!(
        "{} DynamoDB calls, faults injected {:?}: {injected:?}; answers by status {statuses:?}",
        faults.calls.load(Ordering::SeqCst),
        KINDS
    );
    assert!(
        statuses.keys().all(|s| [200, 409, 503].contains(s)),
        "only 200, 409 and 503: {statuses:?}"
    );
    assert!(injected.iter().all(|n| *n > 0), "every kind injected");
    let last: Vec<_> = answers.iter().map(|a| a.last().unwrap()).collect();
    assert!(
        last.iter().all(|r| r.status != 503),
        "every buyer got an answer within {TRIES} tries"
    );
    for response in last.iter().filter(|r| r.status == 409) {
        response.assert_problem(409, "exhausted");
    }
    let sold: BTreeSet<String> = last
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.string("redemption_id"))
        .collect();
    assert_eq!(
        sold.len(),
        last.iter().filter(|r| r.status == 200).count(),
        "each buyer's use is its own"
    );

    let rows: BTreeSet<String> = t
        .redemption_rows(Utc::now())
        .await
        .iter()
        .map(|row| row["redemption_id"].as_s().unwrap().clone())
        .collect();
    assert_eq!(rows, sold, "one log row per success, none without one");
    let details = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await
        .json();
    let left = details["availability_count"].as_u64().unwrap();
    assert_eq!(left + sold.len() as u64, USES, "uses left + sold = {USES}");
    assert_eq!(sold.len() as u64, USES, "500 buyers for 200 uses sell out");
}

/// The events function under the same faults, its batch handed over again
/// after each failure as Lambda does: every log row is counted in its
/// day's figures once, even when a transaction's answer was lost.
#[tokio::test]
async fn day_figures_under_injected_faults_count_each_row_once() {
    const USES: usize = 40;
    const TRIES: usize = 20;
    let faults = Faults::new(0.35);
    let t = TestApp::with(Options {
        faults: Some(faults.clone()),
        rate: (100_000, 100_000),
        ..Options::default()
    })
    .await;
    let mut pipeline = crate::pipeline::Pipeline::new(&t, "1").await;
    t.create_coupon(json!({"code": "FAULTS", "availability_count": USES, "discount_fixed": "1", "currency": "EUR"}))
        .await;
    for _ in 0..USES {
        t.send(
            post("/coupon/consume")
                .token(&t.token_a)
                .json(json!({"code": "FAULTS", "order_amount": "5"})),
        )
        .await
        .expect(200);
    }
    let records = pipeline.new_records().await;

    // Small batches (BatchSize 5), so that the faults meet many transactions.
    faults.switch_on();
    let mut failures = 0;
    for batch in records.chunks(5) {
        let mut tries = 0;
        loop {
            let event = lambda_runtime::LambdaEvent::new(
                json!({ "Records": batch }),
                lambda_runtime::Context::default(),
            );
            tries += 1;
            match events::handle(&pipeline.events, event).await {
                Ok(_) => break,
                Err(_) if tries < TRIES => failures += 1,
                Err(e) => panic!("a batch still failed after {TRIES} tries: {e}"),
            }
        }
    }
    faults.switch_off();
    // Lambda hands the batch over once more after a success it did not hear of.
    pipeline.hand_on(&records).await;
    let injected = faults.injected();
    println!(
        "{failures} failed invocations; faults injected {:?}: {injected:?}",
        KINDS
    );
    assert!(injected[3] > 0, "some answers were lost after the write");
    let day = Utc::now().date_naive();
    let figures = t
        .send(get(&format!("/stats?from={day}&to={day}")).token(&t.token_a))
        .await
        .json();
    assert_eq!(figures["totals"]["redemptions"], USES, "{figures}");
    assert_eq!(
        figures["totals"]["discount"][0]["given"], "40.00",
        "{figures}"
    );
}
