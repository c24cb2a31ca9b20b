//! A per-test app on its own table, two tenants, and a request builder that
//! produces API Gateway HTTP API (payload 2.0) events.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use common::App;
use common::admin;
use common::app::TlsRoots;
use common::auth::Authenticator;
use common::keyspace::KeyspacePolicy;
use common::limits::{GuessingPolicy, Limits};
use common::routes::Function;
use common::ssrf::AddressPolicy;
use common::store::{DynamoStore, schema};
use common::tenant::{IssuedToken, Tenant, TenantId};
use exports::{Exporter, ExportsApp};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

pub struct TestApp {
    /// The app every function builds, with the exports function's S3 part.
    pub state: ExportsApp,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    pub tenant_a: TenantId,
    pub token_a: String,
    pub token_b: String,
    /// Where `POST /webhooks` lets URLs point: loopback too, unless a
    /// test of the SSRF rules says otherwise.
    pub webhook_policy: AddressPolicy,
}

/// How a test's app differs from the defaults.
pub struct Options {
    pub auth: Authenticator,
    pub guessing: GuessingPolicy,
    /// Both tenants' rate per second and burst.
    pub rate: (u32, u32),
    pub keyspace: KeyspacePolicy,
    /// Data rows per worksheet in exports (to test the roll-over).
    pub rows_per_sheet: Option<u32>,
    /// Counts the DynamoDB operations the app makes.
    pub counter: Option<RequestCounter>,
    /// Fails a share of the app's DynamoDB calls once switched on.
    pub faults: Option<crate::faults::Faults>,
    /// Keep rate-limit buckets in this table (created here) instead.
    pub buckets_table: Option<String>,
    /// How long consume trusts a coupon it read (the functions' default
    /// unless given; zero: every request reads afresh).
    pub recent_coupon_ttl: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auth: Authenticator::default(),
            guessing: GuessingPolicy::default(),
            // High enough that tests about other things are never limited.
            rate: (1_000, 1_000),
            buckets_table: None,
            keyspace: KeyspacePolicy::default(),
            counter: None,
            faults: None,
            rows_per_sheet: None,
            recent_coupon_ttl: None,
        }
    }
}

/// The emulator's SDK config, loaded by aws-config with the SDK's own
/// timeouts: the functions' 2 s per attempt is for DynamoDB, and a loaded
/// moto answers the concurrency tests more slowly than that.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(common::app::https_client(TlsRoots::System))
        .load()
        .await
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> TestApp {
        let sdk = sdk_config().await;
        assert!(
            sdk.endpoint_url()
                .is_some_and(|u| u.starts_with("http://127.0.0.1")),
            "integration tests run against a loopback moto server: use scripts/with-moto.sh"
        );
        let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
        if let Some(counter) = &options.counter {
            config = config.interceptor(counter.clone());
        }
        if let Some(faults) = &options.faults {
            config = config.http_client(faults.around(common::app::https_client(TlsRoots::System)));
        }
        let client = aws_sdk_dynamodb::Client::from_conf(config.build());
        let table = format!("test-{}", uuid::Uuid::new_v4());
        schema::create_table(&client, &table)
            .await
            .expect("create table");
        // One log row to a Query: every export reads several pages per
        // shard and merges the shards.
        let store = DynamoStore::new(client.clone(), &table).with_log_page_rows(1);
        let token_a = add_tenant(&store, "tenant-a", options.rate).await;
        let token_b = add_tenant(&store, "tenant-b", options.rate).await;
        let buckets_table = options.buckets_table.unwrap_or_else(|| table.clone());
        schema::create_table(&client, &buckets_table)
            .await
            .expect("create buckets table");
        let buckets = DynamoStore::new(client.clone(), buckets_table);
        let mut app = App::new(store, options.guessing, options.keyspace);
        if let Some(ttl) = options.recent_coupon_ttl {
            app = app.with_recent_coupon_ttl(ttl);
        }
        app.auth = options.auth;
        app.limits = Limits::new(buckets, options.guessing);
        let bucket = format!("test-{}", uuid::Uuid::new_v4().simple());
        let s3 = exports::s3_client(&sdk);
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        let mut exporter = Exporter::with(s3.clone(), &bucket);
        if let Some(rows) = options.rows_per_sheet {
            exporter.rows_per_sheet = rows;
        }
        TestApp {
            state: ExportsApp { app, exporter },
            s3,
            bucket,
            client,
            table,
            tenant_a: TenantId::parse("tenant-a").unwrap(),
            token_a,
            token_b,
            webhook_policy: AddressPolicy {
                allow_loopback: true,
            },
        }
    }

    /// An app whose DynamoDB operations `RequestCounter` records.
    pub async fn counted() -> (TestApp, RequestCounter) {
        let counter = RequestCounter::default();
        let t = TestApp::with(Options {
            counter: Some(counter.clone()),
            ..Options::default()
        })
        .await;
        (t, counter)
    }

    pub fn app(&self) -> &App {
        &self.state.app
    }

    /// Routes a request to the function API Gateway would invoke for it,
    /// selecting among template.yaml's routes as API Gateway does.
    pub async fn call(&self, req: Request) -> TestResponse {
        let function = crate::api_gateway::function_for(
            req.method().as_str(),
            common::request::raw_path(&req),
        );
        let response = match function {
            Function::Ping => ping::handle(req).await,
            Function::Console => console::handle(req).await,
            Function::Consume => consume::handle(self.app(), req).await,
            Function::Coupons => coupons::handle(self.app(), req).await,
            Function::Exports => exports::handle(&self.state, req).await,
            Function::Campaigns => ::campaigns::handle(&self.state, req).await,
            Function::Redemptions => ::redemptions::handle(self.app(), req).await,
            Function::Webhooks => ::webhooks::handle(self.app(), self.webhook_policy, req).await,
        };
        TestResponse::from(
            response.expect("handlers answer Ok, with a problem response if need be"),
        )
    }

    pub async fn send(&self, builder: RequestBuilder) -> TestResponse {
        self.call(builder.build()).await
    }

    /// A coupon for tenant A, made through the API; returns its code.
    pub async fn create_coupon(&self, fields: Value) -> String {
        let response = self
            .send(post("/coupon").token(&self.token_a).json(fields))
            .await;
        response.expect(201).string("code")
    }

    /// Starts a bulk generation job for tenant A (a `quantity` above 1,000)
    /// and returns its id, checking the 202 answer.
    pub async fn start_job(&self, fields: Value) -> String {
        let response = self
            .send(post("/coupon").token(&self.token_a).json(fields))
            .await;
        let id = response.expect(202).string("job_id");
        assert_eq!(
            response.header("location"),
            Some(format!("/coupon/jobs/{id}").as_str())
        );
        let job = response.json();
        assert_eq!(job["status"], "pending");
        assert_eq!(job["created"], 0);
        id
    }

    /// Every item of the test's table (and so every item the app wrote: the
    /// rate-limit buckets live there too), page by page.
    pub async fn all_items(&self) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the test table");
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return items,
            }
        }
    }

    /// Deletes the test's table, so a test that makes many apps keeps the
    /// emulator small (moto keeps every table in memory).
    pub async fn delete_table(&self) {
        self.client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .expect("delete the test table");
    }

    /// One scheduled run of the coupon-jobs worker: bulk jobs and deleted
    /// coupons' clean-up; answers what it reports.
    pub async fn run_worker(&self) -> Value {
        let mut context = lambda_runtime::Context::default();
        context.deadline = (Utc::now() + chrono::Duration::minutes(15)).timestamp_millis() as u64;
        let event = lambda_runtime::LambdaEvent::new(
            json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
            context,
        );
        coupon_jobs::handle(&self.app().store, event)
            .await
            .expect("the worker runs")
    }

    /// Redemption-log rows of tenant A on the given UTC day.
    pub async fn redemption_rows(
        &self,
        day: DateTime<Utc>,
    ) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut rows = Vec::new();
        for shard in 0..schema::LOG_SHARDS {
            let pk = schema::redemptions_pk(&self.tenant_a, day.date_naive(), shard);
            let mut start = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("PK = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                    .set_exclusive_start_key(start)
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap();
                rows.extend(page.items.unwrap_or_default());
                match page.last_evaluated_key {
                    Some(key) => start = Some(key),
                    None => break,
                }
            }
        }
        rows
    }
}

async fn add_tenant(store: &DynamoStore, id: &str, (rate, burst): (u32, u32)) -> String {
    let tenant = Tenant {
        id: TenantId::parse(id).unwrap(),
        name: id.to_owned(),
        rate_per_second: rate,
        burst,
        created_at: Utc::now(),
    };
    let tenant = admin::create_tenant(store, tenant, false).await.unwrap();
    admin::issue_token(store, &tenant.id, IssuedToken::generate())
        .await
        .unwrap()
        .secret
}

/// An SDK interceptor that records each DynamoDB operation by name (once
/// per operation, however many attempts the SDK's retries make; the
/// operation's name is in the config bag from serialization on).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    /// Operation names, in order.
    operations: Arc<Mutex<Vec<String>>>,
    /// What IAM checks for each of them.
    actions: Arc<Mutex<Vec<IamUse>>>,
}

/// One action IAM authorises: `dynamodb:PutItem`, on resource `table` or
/// `index/<name>`, for an item whose partition key is `leading_key` (what
/// a `dynamodb:LeadingKeys` condition sees; none for an index).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IamUse {
    pub action: String,
    pub resource: String,
    pub leading_key: Option<String>,
}

impl RequestCounter {
    /// The operations since the last call, and forgets them.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.operations.lock().unwrap())
    }

    /// What IAM checked for the operations since the last call, and forgets it.
    pub fn take_actions(&self) -> Vec<IamUse> {
        std::mem::take(&mut *self.actions.lock().unwrap())
    }
}

type Item = std::collections::HashMap<String, AttributeValue>;

fn partition_key(item: Option<&Item>) -> Option<String> {
    item.and_then(|i| i.get("PK"))
        .and_then(|pk| pk.as_s().ok())
        .cloned()
}

/// What IAM checks for one DynamoDB operation: each item of a batch or
/// transaction by its own action and key, a query on its index.
fn iam_actions(
    name: &str,
    input: &aws_smithy_runtime_api::client::interceptors::context::Input,
) -> Vec<IamUse> {
    use aws_sdk_dynamodb::operation::{
        batch_get_item::BatchGetItemInput, batch_write_item::BatchWriteItemInput,
        delete_item::DeleteItemInput, get_item::GetItemInput, put_item::PutItemInput,
        query::QueryInput, transact_write_items::TransactWriteItemsInput,
        update_item::UpdateItemInput,
    };
    let on_table = |action: &str, key: Option<String>| IamUse {
        action: format!("dynamodb:{action}"),
        resource: "table".to_owned(),
        leading_key: key,
    };
    match name {
        "TransactWriteItems" => input
            .downcast_ref::<TransactWriteItemsInput>()
            .into_iter()
            .flat_map(|i| i.transact_items())
            .flat_map(|item| {
                [
                    item.put
                        .as_ref()
                        .map(|w| ("PutItem", partition_key(Some(&w.item)))),
                    item.update
                        .as_ref()
                        .map(|w| ("UpdateItem", partition_key(Some(&w.key)))),
                    item.delete
                        .as_ref()
                        .map(|w| ("DeleteItem", partition_key(Some(&w.key)))),
                    item.condition_check
                        .as_ref()
                        .map(|w| ("ConditionCheckItem", partition_key(Some(&w.key)))),
                ]
            })
            .flatten()
            .map(|(action, key)| on_table(action, key))
            .collect(),
        "BatchWriteItem" => input
            .downcast_ref::<BatchWriteItemInput>()
            .into_iter()
            .flat_map(|i| {
                i.request_items()
                    .into_iter()
                    .flat_map(|m| m.values().flatten())
            })
            .map(
                |request| match (&request.put_request, &request.delete_request) {
                    (Some(put), _) => partition_key(Some(&put.item)),
                    (_, Some(delete)) => partition_key(Some(&delete.key)),
                    _ => None,
                },
            )
            .map(|key| on_table("BatchWriteItem", key))
            .collect(),
        "BatchGetItem" => input
            .downcast_ref::<BatchGetItemInput>()
            .into_iter()
            .flat_map(|i| i.request_items().into_iter().flat_map(|m| m.values()))
            .flat_map(|k| k.keys())
            .map(|key| on_table("BatchGetItem", partition_key(Some(key))))
            .collect(),
        "Query" => {
            let query = input.downcast_ref::<QueryInput>();
            match query.and_then(|q| q.index_name()) {
                Some(index) => vec![IamUse {
                    action: "dynamodb:Query".to_owned(),
                    resource: format!("index/{index}"),
                    leading_key: None,
                }],
                // Every query of the table names its partition as `:pk`.
                None => vec![on_table(
                    "Query",
                    query
                        .and_then(|q| q.expression_attribute_values())
                        .and_then(|values| values.get(":pk"))
                        .and_then(|pk| pk.as_s().ok())
                        .cloned(),
                )],
            }
        }
        "GetItem" => vec![on_table(
            name,
            partition_key(input.downcast_ref::<GetItemInput>().and_then(|i| i.key())),
        )],
        "PutItem" => vec![on_table(
            name,
            partition_key(input.downcast_ref::<PutItemInput>().and_then(|i| i.item())),
        )],
        "UpdateItem" => vec![on_table(
            name,
            partition_key(
                input
                    .downcast_ref::<UpdateItemInput>()
                    .and_then(|i| i.key()),
            ),
        )],
        "DeleteItem" => vec![on_table(
            name,
            partition_key(
                input
                    .downcast_ref::<DeleteItemInput>()
                    .and_then(|i| i.key()),
            ),
        )],
        other => vec![on_table(other, None)],
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.operations
                .lock()
                .unwrap()
                .push(metadata.name().to_owned());
            self.actions
                .lock()
                .unwrap()
                .extend(iam_actions(metadata.name(), context.input()));
        }
        Ok(())
    }
}

pub struct TestResponse {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Vec<u8>,
}

impl From<Response<Body>> for TestResponse {
    fn from(response: Response<Body>) -> TestResponse {
        let (parts, body) = response.into_parts();
        let body = match body {
            Body::Empty => Vec::new(),
            Body::Text(t) => t.into_bytes(),
            Body::Binary(b) => b,
            _ => Vec::new(),
        };
        TestResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status (showing the body if it differs).
    #[track_caller]
    pub fn expect(&self, status: u16) -> &TestResponse {
        assert_eq!(self.status, status, "{}", self.text());
        self
    }

    /// A string field of the JSON body.
    #[track_caller]
    pub fn string(&self, field: &str) -> String {
        match &self.json()[field] {
            Value::String(value) => value.clone(),
            other => panic!("{field} is {other}, not a string: {}", self.text()),
        }
    }

    /// Asserts an RFC 9457 problem with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(problem["status"], status);
        assert!(
            problem["title"].is_string()
                && problem["detail"].is_string()
                && problem["type"].is_string()
        );
        assert!(self.header("x-request-id").is_some());
    }
}

pub struct RequestBuilder {
    method: &'static str,
    path: String,
    source_ip: String,
    headers: serde_json::Map<String, Value>,
    body: Option<(String, bool)>,
}

pub fn get(path: &str) -> RequestBuilder {
    RequestBuilder::new("GET", path)
}
pub fn post(path: &str) -> RequestBuilder {
    RequestBuilder::new("POST", path)
}
pub fn put(path: &str) -> RequestBuilder {
    RequestBuilder::new("PUT", path)
}
pub fn delete(path: &str) -> RequestBuilder {
    RequestBuilder::new("DELETE", path)
}

impl RequestBuilder {
    pub fn new(method: &'static str, path_and_query: &str) -> RequestBuilder {
        RequestBuilder {
            method,
            path: path_and_query.to_owned(),
            source_ip: "127.0.0.1".to_owned(),
            headers: Default::default(),
            body: None,
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn token(self, token: &str) -> RequestBuilder {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The client address API Gateway reports.
    pub fn source_ip(mut self, ip: &str) -> RequestBuilder {
        self.source_ip = ip.to_owned();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> RequestBuilder {
        self.headers
            .insert(name.to_owned(), Value::String(value.to_owned()));
        self
    }

    pub fn json(self, body: Value) -> RequestBuilder {
        self.raw("application/json", &body.to_string())
    }

    pub fn form(self, fields: &[(&str, &str)]) -> RequestBuilder {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.raw("application/x-www-form-urlencoded", &body)
    }

    /// What `curl --form` sends; API Gateway hands it over base64-encoded.
    pub fn multipart(mut self, fields: &[(&str, &str)]) -> RequestBuilder {
        let boundary = "------------------------d74496d66958873e";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self.headers.insert(
            "content-type".into(),
            Value::String(format!("multipart/form-data; boundary={boundary}")),
        );
        self.body = Some((BASE64.encode(body.as_bytes()), true));
        self
    }

    /// A body of any bytes, as API Gateway hands over one that is not
    /// UTF-8 text: base64-encoded, with `isBase64Encoded: true`.
    pub fn bytes(mut self, content_type: &str, body: &[u8]) -> RequestBuilder {
        self.headers.insert(
            "content-type".into(),
            Value::String(content_type.to_owned()),
        );
        self.body = Some((BASE64.encode(body), true));
        self
    }

    pub fn raw(mut self, content_type: &str, body: &str) -> RequestBuilder {
        self.headers.insert(
            "content-type".into(),
            Value::String(content_type.to_owned()),
        );
        self.body = Some((body.to_owned(), false));
        self
    }

    pub fn event(&self) -> Value {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let (body, encoded) = self
            .body
            .clone()
            .map_or((Value::Null, false), |(b, e)| (Value::String(b), e));
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": self.headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "127.0.0.1",
                "http": {"method": self.method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": self.source_ip, "userAgent": "tests"},
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": "$default",
                "stage": "$default",
                "time": "23/Nov/2026:20:00:00 +0000",
                "timeEpoch": 1795464000000u64
            },
            "body": body,
            "isBase64Encoded": encoded
        })
    }

    pub fn build(&self) -> Request {
        lambda_http::request::from_str(&self.event().to_string())
            .expect("a valid API Gateway event")
    }
}
