//! Handler overhead: time per request of the consume function's handler,
//! in-process, with DynamoDB answered at the HTTP layer.
//!
//! The DynamoDB client is the real one, built as the functions build it
//! (`common::app::sdk_config_from` for timeouts and retries, then
//! `common::app::dynamodb_client`), with fixed credentials, region us-east-1
//! and an HTTP client that answers in-process instead of a connection. So
//! every request is serialised, signed (SigV4) and its response parsed as
//! in Lambda; only the network (TLS, sockets) and DynamoDB's own latency
//! are left out.
//!
//! The fake table is filled by the service's own code through the same
//! client (`admin::create_tenant`, `admin::issue_token`, `POST /coupon`):
//! their `PutItem`s are kept and later `GetItem`s answer with them, so the
//! items are exactly what the item conversions write. The limiter's
//! `UpdateItem` answers a new TAT; `TransactWriteItems` commits.
//!
//! Each iteration parses the API Gateway HTTP API (2.0) event from JSON, as
//! the runtime does, runs the handler and formats its JSON log line (written
//! to `std::io::sink`). Everything runs on one thread (a current-thread
//! tokio runtime) and nothing waits, so wall time is CPU time on an idle
//! machine. Each route is measured twice: group `wall` (criterion's wall
//! clock) and group `cpu` (the thread's CPU time, which other processes on
//! a busy machine do not inflate).
//!
//! `cargo bench --profile measure -p consume --bench handler`

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::types::AttributeValue;
use common::App;
use common::code::CouponCode;
use common::coupon::Redeem;
use common::keyspace::KeyspacePolicy;
use common::limits::GuessingPolicy;
use common::store::{ConsumeRequest, ConsumeStore, CouponStore, DynamoStore};
use common::tenant::{IssuedToken, Tenant, TenantId};
use criterion::measurement::Measurement;
use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

mod fake_dynamo;
mod thread_cpu;

use fake_dynamo::FakeDynamo;
use thread_cpu::ThreadCpu;

const TABLE: &str = "coupons";
const TOKEN: &str = "cms_bench_token_0123456789abcdef0123456789abcdef";
const CODE: &str = "WELCOME10";
const PRODUCT: &str = "apple123";
/// The default tenant rule (50/s, burst 100): one bucket item.
const RATE: u32 = 50;
const BURST: u32 = 100;

/// An API Gateway HTTP API (payload 2.0) event, as the runtime receives it.
fn event(method: &str, path: &str, query: &str, body: Option<Value>) -> String {
    let mut headers = json!({
        "accept": "*/*",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "authorization": format!("Bearer {TOKEN}"),
    });
    let mut parameters = serde_json::Map::new();
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        parameters.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:20:00:00 +0000",
            "timeEpoch": 1795464000000u64
        },
        "isBase64Encoded": false
    });
    if !parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(parameters);
    }
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    event.to_string()
}

fn request(event: &str) -> Request {
    lambda_http::request::from_str(event).expect("a valid API Gateway event")
}

fn body_text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    }
}

/// The `lambda_http` hello world (what `cargo lambda new` generates, minus
/// its query parsing): the floor any handler on this runtime pays.
async fn hello_world(_req: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/html")
        .body("Hello AWS Lambda HTTP request".into())?)
}

struct Bench {
    runtime: Runtime,
    app: App,
    client: aws_sdk_dynamodb::Client,
    tenant: TenantId,
    consume: String,
    validate: String,
    details: String,
    ping: String,
}

/// The app as `main` builds it, on the fake table, warmed up: the token and
/// tenant are cached, the limiter has its hint, and each route answered 200.
fn setup() -> Bench {
    common::telemetry::init_with_writer(std::io::sink);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (app, client) = runtime.block_on(async {
        let env = |name: &str| {
            let value = match name {
                "AWS_REGION" => "us-east-1",
                "AWS_ACCESS_KEY_ID" => "AKIDBENCHMARK0000000",
                "AWS_SECRET_ACCESS_KEY" => "benchmark/secret/access/key/0000000000",
                _ => return None,
            };
            Some(value.to_owned())
        };
        let sdk = common::app::sdk_config_from(env, SharedHttpClient::new(FakeDynamo::default()))
            .expect("region and credentials are set");
        let client = common::app::dynamodb_client(&sdk);
        let app = App::new(
            DynamoStore::new(client.clone(), TABLE),
            GuessingPolicy::default(),
            KeyspacePolicy::default(),
        );
        (app, client)
    });
    let tenant = TenantId::parse("bench-tenant").unwrap();
    let bench = Bench {
        consume: event(
            "POST",
            "/coupon/consume",
            "",
            Some(json!({"code": CODE, "product_id": PRODUCT})),
        ),
        validate: event(
            "GET",
            "/coupon/consume",
            &format!("code={CODE}&product_id={PRODUCT}"),
            None,
        ),
        details: event("GET", "/coupon", &format!("code={CODE}"), None),
        ping: event("GET", "/ping", "", None),
        runtime,
        app,
        client,
        tenant,
    };
    bench.runtime.block_on(async {
        let store = &bench.app.store;
        let tenant = Tenant {
            id: bench.tenant.clone(),
            name: "Benchmark".into(),
            rate_per_second: RATE,
            burst: BURST,
            created_at: common::dates::now(),
        };
        common::admin::create_tenant(store, tenant, false)
            .await
            .expect("tenant");
        common::admin::issue_token(
            store,
            &bench.tenant,
            IssuedToken::with_secret(TOKEN).unwrap(),
        )
        .await
        .expect("token");
        let create = event(
            "POST",
            "/coupon",
            "",
            Some(json!({
                "code": CODE,
                "availability_count": 1_000_000_000u64,
                "product_id": PRODUCT,
                "promo_type": "voucher",
                "discount_fixed": "20",
                "expiry_date": "15-Jan-2030",
            })),
        );
        let created = coupons::handle(&bench.app, request(&create)).await.unwrap();
        assert_eq!(created.status(), 201, "{}", body_text(&created));
        for (name, event, expect) in [
            ("validate", &bench.validate, r#""valid":true"#),
            ("consume", &bench.consume, r#""redemption_id""#),
            ("consume again", &bench.consume, r#""redemption_id""#),
            ("details", &bench.details, CODE),
        ] {
            let response = if name == "details" {
                coupons::handle(&bench.app, request(event)).await
            } else {
                consume::handle(&bench.app, request(event)).await
            }
            .unwrap();
            let text = body_text(&response);
            assert_eq!(response.status(), 200, "{name}: {text}");
            assert!(text.contains(expect), "{name}: {text}");
        }
    });
    bench
}

/// Every route, in one criterion group named after the measurement.
fn routes<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let bench = setup();
    let Bench {
        runtime: rt,
        app,
        client,
        tenant,
        ..
    } = &bench;
    let cached = (tenant.clone(), CouponCode::parse(CODE).unwrap());

    let mut group = c.benchmark_group(name);
    // The peer: the `lambda_http` hello world on the same event.
    group.bench_function("hello_world", |b| {
        b.to_async(rt)
            .iter(|| async { hello_world(request(&bench.ping)).await.unwrap() })
    });
    // `GET /ping`: our frame (request id, log line) without a token or DynamoDB.
    group.bench_function("ping", |b| {
        b.to_async(rt)
            .iter(|| async { ping::handle(request(&bench.ping)).await.unwrap() })
    });
    // One `GetItem` through the SDK client alone: the price of a call.
    let get_item = || async {
        client
            .get_item()
            .table_name(TABLE)
            .key("PK", AttributeValue::S(format!("T#{tenant}#C#{CODE}")))
            .key("SK", AttributeValue::S("COUPON".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
    };
    group.bench_function("sdk_get_item", |b| b.to_async(rt).iter(get_item));
    // Two bare `GetItem`s back to back: the floor under any route that
    // makes two DynamoDB calls, as consume does (limiter, transaction).
    group.bench_function("sdk_get_item_twice", |b| {
        b.to_async(rt).iter(|| async {
            get_item().await;
            get_item().await
        })
    });
    // The two DynamoDB steps of a consume on their own, through the
    // service's code: the rate limiter's `UpdateItem` ...
    let consume_request = request(&bench.consume);
    let caller = rt
        .block_on(app.auth.caller(&app.store, &consume_request))
        .unwrap();
    group.bench_function("limiter_admit", |b| {
        b.to_async(rt).iter(|| async {
            let matched = common::routes::recognise(&consume_request);
            let kind = common::limits::kind(&consume_request, matched.as_ref()).await;
            app.limits
                .admit(&caller, &kind)
                .await
                .map_err(|(e, _)| e)
                .unwrap()
        })
    });
    // ... and the consume transaction (`TransactWriteItems`) with its log row.
    let coupon = rt
        .block_on(app.store.get_coupon(tenant, &cached.1))
        .unwrap()
        .unwrap();
    let redeem = Redeem {
        product_id: Some(PRODUCT.into()),
        customer_id: None,
        order: None,
    };
    group.bench_function("store_consume", |b| {
        b.to_async(rt).iter(|| async {
            let request = ConsumeRequest {
                seen: &coupon,
                redeem: &redeem,
                reservation: None,
                idempotency: None,
                metadata: &Default::default(),
                now: common::dates::now(),
                render: &|row, left| {
                    serde_json::to_string(&common::views::RedemptionView::consumed(row, left))
                        .unwrap_or_default()
                },
            };
            app.store.consume(tenant, request).await.unwrap()
        })
    });
    // `GET /coupon/consume`: limiter `UpdateItem`, coupon `GetItem`.
    group.bench_function("validate", |b| {
        b.to_async(rt).iter(|| async {
            consume::handle(app, request(&bench.validate))
                .await
                .unwrap()
        })
    });
    // `POST /coupon/consume` of a coupon this instance holds (read or
    // consumed in the last 10 s): limiter `UpdateItem`, `TransactWriteItems`.
    group.bench_function("consume_cached", |b| {
        b.to_async(rt)
            .iter(|| async { consume::handle(app, request(&bench.consume)).await.unwrap() })
    });
    // The same with the coupon read first: limiter, `GetItem`, transaction.
    group.bench_function("consume_read", |b| {
        b.to_async(rt).iter(|| async {
            app.recent_coupons.remove(&cached);
            consume::handle(app, request(&bench.consume)).await.unwrap()
        })
    });
    // `GET /coupon?code=` (the coupons function): limiter, `GetItem`.
    group.bench_function("details", |b| {
        b.to_async(rt)
            .iter(|| async { coupons::handle(app, request(&bench.details)).await.unwrap() })
    });
    group.finish();
}

fn wall(c: &mut Criterion) {
    routes(c, "wall");
}

fn cpu(c: &mut Criterion<ThreadCpu>) {
    routes(c, "cpu");
}

criterion_group!(walls, wall);
criterion_group! {
    name = cpus;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = cpu
}
criterion_main!(walls, cpus);
