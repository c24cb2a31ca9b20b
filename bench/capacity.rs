//! DynamoDB requests and capacity units per API operation, and what a
//! million of each costs (`make bench`; the two tests at the end, the size
//! rules and the units of a warm validate and consume, run in `make test`).
//!
//! moto 5.2.5 does not meter capacity: with `ReturnConsumedCapacity` it
//! answers fixed numbers (`GetItem` 0.5, `PutItem`/`Query`/`DeleteItem` 1.0,
//! `UpdateItem` always 0.5, `TransactWriteItems` an empty list; see
//! `moto/dynamodb/responses.py`), and the service does not ask for it. So
//! [`Meter`], an SDK interceptor, works the units out from what really
//! crosses the wire, by DynamoDB's published rules:
//!
//! - item size: attribute name bytes plus value bytes (strings: UTF-8 bytes;
//!   numbers: 1 byte per two significant digits plus 1; booleans and nulls
//!   1; lists and maps 3 plus 1 per element);
//! - reads: `GetItem` rounds the item up to 4 KB, `Query` the sum of the items
//!   it returns, `BatchGetItem` each item on its own; 1 unit per 4 KB
//!   strongly consistent, 0.5 eventually consistent; a read that finds
//!   nothing still costs one 4 KB unit;
//! - writes: 1 unit per started KB of the larger of the item before and
//!   after the write; a transaction's items cost twice that (prepare and
//!   commit); a failed conditional write costs what it would have written
//!   (at least 1), a cancelled transaction the same, doubled;
//! - GSI1 (projection ALL, so an index entry is the whole item): a write that
//!   puts an item into the index, removes it or changes any of its
//!   attributes costs one more unit per started KB of the entry (two if its
//!   index key changes); index writes are not transactional, so not doubled.
//!
//! Item sizes come from the request and response bodies (`GetItem` and
//! `Query` answers) and, for writes, from the item itself: before each write
//! is sent the meter reads every item it targets (strongly consistent, with
//! a client of its own that it does not meter), and reads them again after
//! the answer. So an `UpdateItem` is billed on its real before and after
//! images, not an estimate, and nothing in the service's requests changes.
//!
//! Lambda time is a proxy: the CPU time of the in-process handler call, on
//! a second instance without the meter (everything an in-process call does,
//! the SDK's HTTP included, runs on the test's current-thread runtime, so
//! the thread's CPU clock sees all of it). It leaves out the AWS round
//! trips, which dominate a real invocation's billed duration; the table
//! adds an assumed 5 ms per sequential DynamoDB round trip (25 ms for the S3
//! upload) beside it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use common::App;
use common::code::CouponCode;
use common::coupon::Redemption;
use common::keyspace::KeyspacePolicy;
use common::limits::GuessingPolicy;
use common::store::DynamoStore;
use common::store::schema::{
    GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK, PK, SK, log_shard, redemption_sk,
    redemptions_pk,
};
use exports::{Exporter, ExportsApp};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::pipeline::{Pipeline, Receiver};

// ------------------------------------------------------------- the meter ---

/// One DynamoDB item as stored: its size, and its key in each global
/// secondary index (GSI1, GSI2, GSI3) where it has one.
#[derive(Debug, Clone, PartialEq)]
struct Image {
    size: usize,
    index_keys: [Option<(String, String)>; 3],
    attributes: HashMap<String, AttributeValue>,
}

impl Image {
    fn of(attributes: HashMap<String, AttributeValue>) -> Image {
        let key = |pk: &str, sk: &str| match (attributes.get(pk), attributes.get(sk)) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
                Some((pk.clone(), sk.clone()))
            }
            _ => None,
        };
        Image {
            size: item_size(&attributes),
            index_keys: [
                key(GSI1PK, GSI1SK),
                key(GSI2PK, GSI2SK),
                key(GSI3PK, GSI3SK),
            ],
            attributes,
        }
    }
}

/// Size of an item as DynamoDB counts it for capacity.
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + value_size(e))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// 1 byte per two significant digits, plus 1 (leading and trailing zeros
/// are not significant).
fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or(n);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

/// An attribute value in DynamoDB's JSON wire format.
fn from_json(value: &Value) -> AttributeValue {
    let Some((tag, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return AttributeValue::Null(true);
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let blob = |v: &Value| Blob::new(BASE64.decode(text(v)).unwrap_or_default());
    match tag.as_str() {
        "S" => AttributeValue::S(text(inner)),
        "N" => AttributeValue::N(text(inner)),
        "B" => AttributeValue::B(blob(inner)),
        "BOOL" => AttributeValue::Bool(inner.as_bool().unwrap_or_default()),
        "SS" => AttributeValue::Ss(list(inner).iter().map(text).collect()),
        "NS" => AttributeValue::Ns(list(inner).iter().map(text).collect()),
        "BS" => AttributeValue::Bs(list(inner).iter().map(blob).collect()),
        "L" => AttributeValue::L(list(inner).iter().map(from_json).collect()),
        "M" => AttributeValue::M(item_from_json(inner)),
        _ => AttributeValue::Null(true),
    }
}

fn item_from_json(item: &Value) -> HashMap<String, AttributeValue> {
    item.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        .unwrap_or_default()
}

type Key = (String, String, String);

/// The key of an item in the wire format, with its table.
fn key_of(table: &Value, item: &Value) -> Option<Key> {
    let part = |name: &str| item.get(name)?.get("S")?.as_str().map(str::to_owned);
    Some((table.as_str()?.to_owned(), part(PK)?, part(SK)?))
}

/// Reads items for the meter on a thread and runtime of its own, so a hook
/// (which cannot await) can wait for them without stalling the test's
/// runtime. Its client has no interceptor: these reads are not counted.
struct ImageReader(Mutex<mpsc::Sender<ReadJob>>);

/// Keys to read, and where to send their items.
type ReadJob = (Vec<Key>, mpsc::Sender<Vec<Option<Image>>>);

impl ImageReader {
    fn start() -> ImageReader {
        let (tx, rx) = mpsc::channel::<ReadJob>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the meter's reads");
            let client =
                runtime.block_on(async { aws_sdk_dynamodb::Client::new(&sdk_config().await) });
            for (keys, reply) in rx {
                let images = runtime.block_on(async {
                    let mut images = Vec::new();
                    for (table, pk, sk) in keys {
                        let item = client
                            .get_item()
                            .table_name(table)
                            .key(PK, AttributeValue::S(pk))
                            .key(SK, AttributeValue::S(sk))
                            .consistent_read(true)
                            .send()
                            .await
                            .expect("the meter reads an item")
                            .item;
                        images.push(item.map(Image::of));
                    }
                    images
                });
                let _ = reply.send(images);
            }
        });
        ImageReader(Mutex::new(tx))
    }

    fn read(&self, keys: Vec<Key>) -> Vec<Option<Image>> {
        if keys.is_empty() {
            return Vec::new();
        }
        let (reply, answer) = mpsc::channel();
        self.0
            .lock()
            .unwrap()
            .send((keys, reply))
            .expect("the meter's reader runs");
        answer.recv().expect("the meter's reader answers")
    }
}

/// How an item is written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WriteKind {
    Put,
    Update,
    Delete,
    /// A transaction's `ConditionCheck`: read, not written.
    Check,
}

#[derive(Debug)]
struct Target {
    key: Key,
    kind: WriteKind,
    transactional: bool,
    /// The item a `Put` writes, as sent.
    sent: Option<Image>,
}

/// The items a write operation targets, from its request body.
fn targets(op: &str, body: &Value) -> Vec<Target> {
    // A `Put` names its key inside the item it sends.
    let target = |table: &Value, item_or_key: &Value, kind, transactional| {
        key_of(table, item_or_key).map(|key| Target {
            key,
            kind,
            transactional,
            sent: (kind == WriteKind::Put).then(|| Image::of(item_from_json(item_or_key))),
        })
    };
    match op {
        "PutItem" => target(&body["TableName"], &body["Item"], WriteKind::Put, false)
            .into_iter()
            .collect(),
        "UpdateItem" => target(&body["TableName"], &body["Key"], WriteKind::Update, false)
            .into_iter()
            .collect(),
        "DeleteItem" => target(&body["TableName"], &body["Key"], WriteKind::Delete, false)
            .into_iter()
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (action, spec) = item.as_object()?.iter().next()?;
                let (kind, key) = match action.as_str() {
                    "Put" => (WriteKind::Put, &spec["Item"]),
                    "Update" => (WriteKind::Update, &spec["Key"]),
                    "Delete" => (WriteKind::Delete, &spec["Key"]),
                    _ => (WriteKind::Check, &spec["Key"]),
                };
                target(&spec["TableName"], key, kind, true)
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(table, requests)| {
                let table = Value::String(table.clone());
                requests
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(move |request| {
                        if let Some(put) = request.get("PutRequest") {
                            target(&table, &put["Item"], WriteKind::Put, false)
                        } else {
                            target(
                                &table,
                                &request["DeleteRequest"]["Key"],
                                WriteKind::Delete,
                                false,
                            )
                        }
                    })
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn units(bytes: usize, per: usize) -> f64 {
    bytes.max(1).div_ceil(per) as f64
}

/// Table and index write units for one item of a write that went through.
fn write_units(target: &Target, before: Option<&Image>, after: Option<&Image>) -> (f64, f64) {
    let size = |i: Option<&Image>| i.map_or(0, |i| i.size);
    let factor = if target.transactional { 2.0 } else { 1.0 };
    if target.kind == WriteKind::Check {
        return (factor * units(size(before), 1024), 0.0);
    }
    let table = factor * units(size(before).max(size(after)), 1024);
    let entry = |i: &Image| units(i.size, 1024);
    // Each index projects every attribute: an item in it costs an entry
    // write whenever it changes (two when its index key changes).
    let index = (0..3)
        .map(|n| {
            match (
                before.filter(|i| i.index_keys[n].is_some()),
                after.filter(|i| i.index_keys[n].is_some()),
            ) {
                (None, None) => 0.0,
                (None, Some(a)) => entry(a),
                (Some(b), None) => entry(b),
                (Some(b), Some(a)) if b.index_keys[n] != a.index_keys[n] => entry(b) + entry(a),
                (Some(b), Some(a)) if b.attributes != a.attributes => entry(b).max(entry(a)),
                _ => 0.0,
            }
        })
        .sum();
    (table, index)
}

/// Table write units of a write whose condition failed: what it would have
/// written (the sent item or the item as it is), at least one unit.
fn refused_units(target: &Target, before: Option<&Image>) -> f64 {
    let factor = if target.transactional { 2.0 } else { 1.0 };
    let size = before
        .map_or(0, |i| i.size)
        .max(target.sent.as_ref().map_or(0, |i| i.size));
    factor * units(size, 1024)
}

/// One attempt at one AWS request, as the meter saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub service: String,
    pub op: String,
    pub read_units: f64,
    pub table_write_units: f64,
    pub index_write_units: f64,
    /// The error code, when the request failed.
    pub error: Option<String>,
    /// Request body bytes (what an S3 upload sends).
    pub bytes_sent: u64,
    /// The largest item it read or wrote.
    pub largest_item: usize,
    pub started: Instant,
    pub ended: Instant,
}

struct Pending {
    service: String,
    op: String,
    request: Value,
    bytes_sent: u64,
    targets: Vec<Target>,
    before: Vec<Option<Image>>,
    started: Instant,
}

struct MeterState {
    images: ImageReader,
    /// Attempts in flight, by the address of their config bag (the same
    /// object from `read_before_transmit` to `read_after_attempt`).
    pending: Mutex<HashMap<usize, Pending>>,
    calls: Mutex<Vec<Call>>,
}

/// An SDK interceptor for DynamoDB and S3 clients: every attempt, with the
/// capacity units DynamoDB bills for it.
#[derive(Clone)]
pub struct Meter(Arc<MeterState>);

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meter")
    }
}

impl Meter {
    pub fn start() -> Meter {
        Meter(Arc::new(MeterState {
            images: ImageReader::start(),
            pending: Mutex::default(),
            calls: Mutex::default(),
        }))
    }

    /// The calls since the last take, and forgets them.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.0.calls.lock().unwrap())
    }

    fn finish(&self, pending: Pending, status: Option<u16>, response: Value) -> Call {
        let ended = Instant::now();
        let error = match status {
            Some(200) => None,
            Some(code) => Some(
                response["__type"]
                    .as_str()
                    .and_then(|t| t.rsplit('#').next())
                    .map_or_else(|| format!("HTTP {code}"), str::to_owned),
            ),
            None => Some("no response".to_owned()),
        };
        let mut call = Call {
            service: pending.service,
            op: pending.op,
            read_units: 0.0,
            table_write_units: 0.0,
            index_write_units: 0.0,
            error,
            bytes_sent: pending.bytes_sent,
            largest_item: 0,
            started: pending.started,
            ended,
        };
        if call.service != "DynamoDB" {
            return call;
        }
        let strong = pending.request["ConsistentRead"].as_bool() == Some(true);
        let read_factor = if strong { 1.0 } else { 0.5 };
        let sizes = |items: &Value| -> Vec<usize> {
            items
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| item_size(&item_from_json(i)))
                .collect()
        };
        match call.op.as_str() {
            "GetItem" if call.error.is_none() => {
                let size = response
                    .get("Item")
                    .map_or(0, |i| item_size(&item_from_json(i)));
                call.largest_item = size;
                call.read_units = read_factor * units(size, 4096);
            }
            "Query" | "Scan" if call.error.is_none() => {
                let sizes = sizes(&response["Items"]);
                call.largest_item = sizes.iter().copied().max().unwrap_or(0);
                call.read_units = read_factor * units(sizes.iter().sum(), 4096);
            }
            "BatchGetItem" if call.error.is_none() => {
                // Each key is a `GetItem` of its own: every item rounded up
                // on its own, a key that finds nothing still one unit.
                let tables = pending.request["RequestItems"].as_object();
                for (table, asked) in tables.into_iter().flatten() {
                    let factor = match asked["ConsistentRead"].as_bool() {
                        Some(true) => 1.0,
                        _ => 0.5,
                    };
                    let keys = |v: &Value| v["Keys"].as_array().map_or(0, Vec::len);
                    let read = keys(asked) - keys(&response["UnprocessedKeys"][table]);
                    let sizes = sizes(&response["Responses"][table]);
                    call.largest_item = call
                        .largest_item
                        .max(sizes.iter().copied().max().unwrap_or(0));
                    let found: f64 = sizes.iter().map(|&size| units(size, 4096)).sum();
                    let missing = read.saturating_sub(sizes.len()) as f64;
                    call.read_units += factor * (found + missing);
                }
            }
            _ => {}
        }
        if pending.targets.is_empty() {
            return call;
        }
        let refused = matches!(
            call.error.as_deref(),
            Some("ConditionalCheckFailedException" | "TransactionCanceledException")
        );
        if call.error.is_none() {
            let after = self
                .0
                .images
                .read(pending.targets.iter().map(|t| t.key.clone()).collect());
            for ((target, before), after) in pending.targets.iter().zip(&pending.before).zip(&after)
            {
                let (table, index) = write_units(target, before.as_ref(), after.as_ref());
                call.table_write_units += table;
                call.index_write_units += index;
                for image in [before, after].into_iter().flatten() {
                    call.largest_item = call.largest_item.max(image.size);
                }
            }
        } else if refused {
            for (target, before) in pending.targets.iter().zip(&pending.before) {
                call.table_write_units += refused_units(target, before.as_ref());
            }
        }
        call
    }
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(metadata) = cfg.load::<Metadata>() else {
            return Ok(());
        };
        let (service, op) = (metadata.service().to_owned(), metadata.name().to_owned());
        let request = context.request();
        let bytes_sent = request
            .headers()
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .or_else(|| request.body().bytes().map(|b| b.len() as u64))
            .unwrap_or(0);
        let body: Value = match service.as_str() {
            "DynamoDB" => request
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let targets = targets(&op, &body);
        let before = self
            .0
            .images
            .read(targets.iter().map(|t| t.key.clone()).collect());
        let pending = Pending {
            service,
            op,
            request: body,
            bytes_sent,
            targets,
            before,
            started: Instant::now(),
        };
        let id = std::ptr::from_ref::<ConfigBag>(cfg) as usize;
        self.0.pending.lock().unwrap().insert(id, pending);
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let id = std::ptr::from_ref::<ConfigBag>(cfg) as usize;
        let Some(pending) = self.0.pending.lock().unwrap().remove(&id) else {
            return Ok(());
        };
        let response = context.response();
        if response.is_none() && context.output_or_error().is_none() {
            // Never sent: a presigned request stops before transmit.
            return Ok(());
        }
        let status = response.map(|r| r.status().as_u16());
        let body = response
            .and_then(|r| r.body().bytes())
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let call = self.finish(pending, status, body);
        self.0.calls.lock().unwrap().push(call);
        Ok(())
    }
}

// ------------------------------------------------- an instance, metered ---

/// Another warm "Lambda instance" on the test app's table and bucket, built
/// as the functions build theirs (`TestApp::with` reads the log a row at a
/// time, for tests of paging), its clients metered if `meter` is given.
async fn instance(t: &TestApp, meter: Option<&Meter>) -> TestApp {
    let sdk = sdk_config().await;
    let mut dynamo = aws_sdk_dynamodb::config::Builder::from(&sdk);
    let mut s3 = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true);
    if let Some(meter) = meter {
        dynamo = dynamo.interceptor(meter.clone());
        s3 = s3.interceptor(meter.clone());
    }
    let client = aws_sdk_dynamodb::Client::from_conf(dynamo.build());
    let s3 = aws_sdk_s3::Client::from_conf(s3.build());
    // The limiter in the same table, as `App::from_env` has it.
    let app = App::new(
        DynamoStore::new(client.clone(), &t.table),
        GuessingPolicy::default(),
        KeyspacePolicy::default(),
    );
    TestApp {
        state: ExportsApp {
            app,
            exporter: Exporter::with(s3.clone(), &t.bucket),
        },
        s3,
        bucket: t.bucket.clone(),
        client,
        table: t.table.clone(),
        tenant_a: t.tenant_a.clone(),
        token_a: t.token_a.clone(),
        token_b: t.token_b.clone(),
        webhook_policy: t.webhook_policy,
    }
}

// ---------------------------------------------------------- measurement ---

/// CPU time this thread has run, from the scheduler (`/proc/thread-self/schedstat`).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// What the meter saw over `runs` runs of one operation.
struct Measured {
    name: String,
    runs: usize,
    calls: Vec<Call>,
    /// Sequential round trips over all runs (overlapping requests are one).
    rounds: usize,
    /// Assumed AWS latency over all runs: 5 ms per DynamoDB round trip,
    /// 25 ms for an S3 upload, the longest of a round's requests.
    assumed_latency_ms: f64,
}

const DYNAMODB_ROUND_TRIP_MS: f64 = 5.0;
const S3_PUT_MS: f64 = 25.0;

impl Measured {
    fn new(name: &str) -> Measured {
        Measured {
            name: name.to_owned(),
            runs: 0,
            calls: Vec::new(),
            rounds: 0,
            assumed_latency_ms: 0.0,
        }
    }

    /// Adds one run's calls.
    fn add(&mut self, mut calls: Vec<Call>) {
        assert!(
            calls.iter().all(|c| c.error.is_none()),
            "{}: a request failed: {calls:?}",
            self.name
        );
        calls.sort_by_key(|c| c.started);
        let mut round_end: Option<Instant> = None;
        let mut round_latency = 0.0_f64;
        for call in &calls {
            let latency = if call.service == "S3" {
                S3_PUT_MS
            } else {
                DYNAMODB_ROUND_TRIP_MS
            };
            match round_end {
                Some(end) if call.started <= end => {
                    round_end = Some(end.max(call.ended));
                    round_latency = round_latency.max(latency);
                }
                _ => {
                    self.rounds += 1;
                    self.assumed_latency_ms += round_latency;
                    round_end = Some(call.ended);
                    round_latency = latency;
                }
            }
        }
        self.assumed_latency_ms += round_latency;
        self.runs += 1;
        self.calls.extend(calls);
    }

    fn per_run(&self, total: f64) -> f64 {
        total / self.runs as f64
    }

    fn read_units(&self) -> f64 {
        self.per_run(self.calls.iter().map(|c| c.read_units).sum())
    }

    fn table_write_units(&self) -> f64 {
        self.per_run(self.calls.iter().map(|c| c.table_write_units).sum())
    }

    fn index_write_units(&self) -> f64 {
        self.per_run(self.calls.iter().map(|c| c.index_write_units).sum())
    }

    fn write_units(&self) -> f64 {
        self.table_write_units() + self.index_write_units()
    }

    fn count(&self, service: &str, op: &str) -> f64 {
        self.per_run(
            self.calls
                .iter()
                .filter(|c| c.service == service && (op.is_empty() || c.op == op))
                .count() as f64,
        )
    }

    /// "2: UpdateItem 1, GetItem 1", per run, in order of first use.
    fn requests(&self, service: &str) -> String {
        let mut order: Vec<&str> = Vec::new();
        for call in self.calls.iter().filter(|c| c.service == service) {
            if !order.contains(&call.op.as_str()) {
                order.push(&call.op);
            }
        }
        let parts: Vec<String> = order
            .iter()
            .map(|op| format!("{op} {}", number(self.count(service, op))))
            .collect();
        format!("{}: {}", number(self.count(service, "")), parts.join(", "))
    }

    fn largest_item(&self, op: &str) -> usize {
        self.calls
            .iter()
            .filter(|c| c.op == op)
            .map(|c| c.largest_item)
            .max()
            .unwrap_or(0)
    }

    fn rounds(&self) -> f64 {
        self.per_run(self.rounds as f64)
    }

    fn assumed_latency_ms(&self) -> f64 {
        self.per_run(self.assumed_latency_ms)
    }
}

/// An integer without decimals, anything else with two.
fn number(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.2}")
    }
}

/// The handler's CPU time per call on an unmetered instance (mean, and the
/// mean of each call rounded up to Lambda's 1 ms billing step).
struct Cpu {
    mean_ms: f64,
    billed_ms: f64,
}

async fn cpu_runs(
    t: &TestApp,
    runs: usize,
    prepare: impl Fn(usize),
    request: impl Fn(usize) -> RequestBuilder,
    status: u16,
) -> Cpu {
    let (mut total, mut billed) = (0.0, 0.0);
    let started = Instant::now();
    for i in 0..runs {
        prepare(i);
        let req = request(i).build();
        let before = thread_cpu();
        let response = t.call(req).await;
        let ms = (thread_cpu() - before).as_secs_f64() * 1e3;
        assert_eq!(response.status, status, "{}", response.text());
        total += ms;
        billed += ms.ceil().max(1.0);
    }
    eprintln!(
        "cpu: {runs} runs, {:.2} ms CPU and {:.2} ms wall per call",
        total / runs as f64,
        started.elapsed().as_secs_f64() * 1e3 / runs as f64
    );
    Cpu {
        mean_ms: total / runs as f64,
        billed_ms: billed / runs as f64,
    }
}

// ---------------------------------------------------------------- prices ---

/// us-east-1 list prices, as of 2026-11 (DynamoDB on-demand since the
/// 2024-11-01 reduction; Lambda arm64 first tier; HTTP API first 300 M).
const WRITE_UNIT_PRICE: f64 = 0.625; // $ per million write request units
const READ_UNIT_PRICE: f64 = 0.125; // $ per million read request units
const HTTP_API_PRICE: f64 = 1.00; // $ per million requests
const LAMBDA_REQUEST_PRICE: f64 = 0.20; // $ per million requests
const LAMBDA_GB_SECOND_PRICE: f64 = 0.000_013_333_4; // $ per GB-s, arm64
const S3_PUT_PRICE: f64 = 5.00; // $ per million PUT requests (S3 Standard)

/// One row of the cost table.
struct Row {
    measured: Measured,
    /// The function's `MemorySize` in template.yaml.
    memory_mb: f64,
    cpu: Cpu,
    /// Units the row's figures are per (1 per request, 100 per code of a batch...).
    per: f64,
    unit: &'static str,
    note: String,
}

impl Row {
    fn dynamodb_cost(&self) -> f64 {
        (self.measured.read_units() * READ_UNIT_PRICE
            + self.measured.write_units() * WRITE_UNIT_PRICE)
            / self.per
    }

    fn s3_cost(&self) -> f64 {
        self.measured.count("S3", "PutObject") * S3_PUT_PRICE / self.per
    }

    fn lambda_duration_cost(&self, ms: f64) -> f64 {
        self.memory_mb / 1024.0 * ms / 1e3 * LAMBDA_GB_SECOND_PRICE * 1e6 / self.per
    }

    fn assumed_ms(&self) -> f64 {
        (self.cpu.mean_ms + self.measured.assumed_latency_ms()).ceil()
    }

    fn fixed_cost(&self) -> f64 {
        (HTTP_API_PRICE + LAMBDA_REQUEST_PRICE) / self.per
    }
}

fn money(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

fn print_tables(rows: &[Row]) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| operation | DynamoDB requests (by API) | RCU | WCU (table + indexes) | sequential round trips | other requests | notes |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for row in rows {
        let m = &row.measured;
        let per = if row.per == 1.0 {
            String::new()
        } else {
            format!(
                "; per {}: {} RCU, {} WCU",
                row.unit,
                number((m.read_units() / row.per * 1e4).round() / 1e4),
                number((m.write_units() / row.per * 1e4).round() / 1e4)
            )
        };
        let s3 = if m.count("S3", "") > 0.0 {
            let sent: u64 = m
                .calls
                .iter()
                .filter(|c| c.service == "S3")
                .map(|c| c.bytes_sent)
                .sum();
            format!(
                "S3 {} ({:.1} KB sent)",
                m.requests("S3"),
                m.per_run(sent as f64) / 1024.0
            )
        } else {
            "—".to_owned()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({} + {}) | {} | {} | {}{} |",
            m.name,
            m.requests("DynamoDB"),
            number(m.read_units()),
            number(m.write_units()),
            number(m.table_write_units()),
            number(m.index_write_units()),
            number(m.rounds()),
            s3,
            row.note,
            per
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| operation (per million) | memory | DynamoDB | API Gateway | Lambda requests | Lambda duration, CPU proxy (billed ms) | total, CPU proxy | Lambda duration, assumed (ms) | total, assumed |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let storage = row.dynamodb_cost() + row.s3_cost();
        let proxy = row.lambda_duration_cost(row.cpu.billed_ms);
        let assumed_ms = row.assumed_ms();
        let assumed = row.lambda_duration_cost(assumed_ms);
        let s3 = if row.s3_cost() > 0.0 {
            format!(" (+ S3 ${})", money(row.s3_cost()))
        } else {
            String::new()
        };
        let name = if row.per == 1.0 {
            row.measured.name.clone()
        } else {
            format!("{}, per {}", row.measured.name, row.unit)
        };
        let _ = writeln!(
            out,
            "| {name} | {} MB | ${}{s3} | ${} | ${} | ${} ({:.2} ms CPU, {} billed) | ${} | ${} ({assumed_ms} ms) | ${} |",
            row.memory_mb,
            money(row.dynamodb_cost()),
            money(HTTP_API_PRICE / row.per),
            money(LAMBDA_REQUEST_PRICE / row.per),
            money(proxy),
            row.cpu.mean_ms,
            number((row.cpu.billed_ms * 100.0).round() / 100.0),
            money(storage + row.fixed_cost() + proxy),
            money(assumed),
            money(storage + row.fixed_cost() + assumed),
        );
    }
    println!("{out}");
}

// ------------------------------------------------------------------ test ---

const COUPON: &str = r#"{"availability_count": 10000000, "product_id": "apple123",
    "promo_type": "voucher", "discount_fixed": "20", "expiry_date": "15-Jan-2030"}"#;
/// Rows the export reads: those of the consume row's checkouts, and copies.
const EXPORT_ROWS: usize = 1_000;
const RUNS: usize = 20;

fn checkout(method: fn(&str) -> RequestBuilder, code: &str, i: usize) -> RequestBuilder {
    method(&format!(
        "/coupon/consume?code={code}&product_id=apple123&customer_id=cust-{:04}&order_amount=59.90",
        i % 500
    ))
}

fn rfc3339(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Adds rows to the log from `from` to `to` until it has `total`: copies
/// of the rows the checkouts wrote, each under a fresh id at a time of its
/// own spread evenly over the range, in the shard that id picks. So they
/// are the rows consume writes, laid out as real traffic lays them out,
/// without thousands of transactions against moto (which copies the whole
/// table for each one).
async fn fill_log(t: &TestApp, from: DateTime<Utc>, to: DateTime<Utc>, total: usize) {
    let mut rows = t.redemption_rows(from).await;
    if to.date_naive() != from.date_naive() {
        rows.extend(t.redemption_rows(to).await);
    }
    let range = from.timestamp_millis()..=to.timestamp_millis();
    rows.retain(|row| {
        let at = row["consumed_at"].as_n().unwrap().parse().unwrap();
        range.contains(&at)
    });
    assert!(!rows.is_empty() && rows.len() <= total);
    let new = total - rows.len();
    let span = (to - from).num_milliseconds() as f64;
    let copies: Vec<WriteRequest> = (0..new)
        .map(|i| {
            let mut row = rows[i % rows.len()].clone();
            let offset = (span * (i as f64 + 0.5) / new as f64) as i64;
            let at = from + chrono::Duration::milliseconds(offset);
            let id = Redemption::new_id(at);
            let shard = log_shard(&id);
            let pk = redemptions_pk(&t.tenant_a, at.date_naive(), shard);
            let sk = redemption_sk(at, &id);
            // The log's index keys (by code, customer, campaign) follow
            // the copy's id: its shard ends the partition, its key sorts.
            for (index_pk, index_sk) in [(GSI1PK, GSI1SK), (GSI2PK, GSI2SK), (GSI3PK, GSI3SK)] {
                let Some(AttributeValue::S(partition)) = row.get(index_pk) else {
                    continue;
                };
                let (base, _) = partition.rsplit_once('#').unwrap();
                let partition = format!("{base}#{shard}");
                row.insert(index_pk.to_owned(), AttributeValue::S(partition));
                row.insert(index_sk.to_owned(), AttributeValue::S(sk.clone()));
            }
            row.insert(PK.to_owned(), AttributeValue::S(pk));
            row.insert(SK.to_owned(), AttributeValue::S(sk));
            row.insert("redemption_id".to_owned(), AttributeValue::S(id));
            let millis = at.timestamp_millis().to_string();
            row.insert("consumed_at".to_owned(), AttributeValue::N(millis));
            let put = PutRequest::builder().set_item(Some(row)).build().unwrap();
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    for chunk in copies.chunks(25) {
        let output = t
            .client
            .batch_write_item()
            .request_items(&t.table, chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert!(output.unprocessed_items.unwrap_or_default().is_empty());
    }
}

/// One operation of the table: how to run it and what it is.
struct Spec {
    name: &'static str,
    note: &'static str,
    /// Calls timed on the plain instance, then calls metered.
    cpu_runs: usize,
    metered_runs: usize,
    status: u16,
    memory_mb: f64,
    per: f64,
    unit: &'static str,
}

impl Spec {
    fn new(name: &'static str, note: &'static str) -> Spec {
        Spec {
            name,
            note,
            cpu_runs: 100,
            metered_runs: RUNS,
            status: 200,
            memory_mb: 256.0,
            per: 1.0,
            unit: "",
        }
    }
}

/// Times `spec.cpu_runs` calls on the plain instance, then meters
/// `spec.metered_runs` on the metered one; call `i` gets request `i`
/// (metered calls continue the numbering), after `prepare(instance, i)`.
async fn row(
    t: &TestApp,
    m: &TestApp,
    meter: &Meter,
    spec: Spec,
    warm: &dyn Fn() -> RequestBuilder,
    prepare: impl Fn(&TestApp, usize),
    request: impl Fn(usize) -> RequestBuilder,
) -> Row {
    let offset = spec.cpu_runs;
    let cpu = cpu_runs(t, spec.cpu_runs, |i| prepare(t, i), &request, spec.status).await;
    let mut measured = Measured::new(spec.name);
    for i in offset..offset + spec.metered_runs {
        // A warm instance: token, tenant and the coupon in its caches
        // (these runs can take longer than the caches keep them).
        assert_eq!(m.send(warm()).await.status, 200);
        prepare(m, i);
        meter.take();
        let response = m.send(request(i)).await;
        assert_eq!(
            response.status,
            spec.status,
            "{}: {}",
            spec.name,
            response.text()
        );
        measured.add(meter.take());
    }
    eprintln!(
        "metered: {}, {} runs: {}",
        spec.name,
        spec.metered_runs,
        measured.requests("DynamoDB")
    );
    Row {
        measured,
        memory_mb: spec.memory_mb,
        cpu,
        per: spec.per,
        unit: spec.unit,
        note: spec.note.to_owned(),
    }
}

#[tokio::test]
#[ignore = "benchmark: run by `make bench`"]
async fn capacity_units_and_cost_per_operation() {
    let app = TestApp::new().await;
    let meter = Meter::start();
    let t = instance(&app, None).await;
    let m = instance(&app, Some(&meter)).await;
    let coupon: Value = serde_json::from_str(COUPON).unwrap();
    let code = t.create_coupon(coupon.clone()).await;
    let token = t.token_a.clone();
    let mut batch = coupon.clone();
    batch["quantity"] = json!(2 * RUNS);
    let response = t.send(post("/coupon").token(&token).json(batch)).await;
    response.expect(201);
    // Coupons to consume cold: no instance has read them.
    let cold_codes: Vec<String> = response.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    let forget = |app: &TestApp, code: &str| {
        let code = CouponCode::parse(code).unwrap();
        app.app().recent_coupons.remove(&(t.tenant_a.clone(), code));
    };
    let validate = |i| checkout(get, &code, i).token(&token);
    let consume = |i| checkout(post, &code, i).token(&token);
    // Both instances warm: token and tenant cached, the limiter's hint set,
    // the coupon read.
    let warm = || validate(0);
    for instance in [&t, &m] {
        assert_eq!(instance.send(warm()).await.status, 200);
    }
    meter.take();

    let mut rows = Vec::new();
    let spec = Spec::new(
        "validate (`GET /coupon/consume`)",
        "limiter `UpdateItem` and, at once, the identity's guessing block (`GetItem`, eventually consistent); strongly consistent `GetItem` of the coupon",
    );
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, validate).await);
    // The checkouts write the log rows the export reads.
    let from = Utc::now();
    let spec = Spec::new(
        "consume, warm (`POST /coupon/consume` after validate)",
        "limiter and guessing block; one transaction: coupon `Update` and log row `Put`, 2 units each; the coupon's GSI1 entry changes too",
    );
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, consume).await);
    let to = Utc::now();
    let spec = Spec {
        cpu_runs: RUNS,
        ..Spec::new(
            "consume, cold (coupon not read by this instance in 10 s)",
            "as warm, plus the coupon `GetItem`",
        )
    };
    let cold = |i: usize| checkout(post, &cold_codes[i], i).token(&token);
    rows.push(
        row(
            &t,
            &m,
            &meter,
            spec,
            &warm,
            |app, i| forget(app, &cold_codes[i]),
            cold,
        )
        .await,
    );
    let spec = Spec {
        cpu_runs: 50,
        ..Spec::new(
            "consume, warm, with `Idempotency-Key`",
            "the transaction also puts the idempotency record (the response, kept a day)",
        )
    };
    let idempotent = |i: usize| {
        let key = format!("order-{i}-{}", uuid::Uuid::new_v4());
        consume(i).header("idempotency-key", &key)
    };
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, idempotent).await);
    let mut high_demand = coupon.clone();
    high_demand["high_demand"] = json!(true);
    // Tenant B's, so tenant A's list pages hold plain coupons only.
    let response = t
        .send(post("/coupon").token(&t.token_b).json(high_demand))
        .await;
    let hot = response.expect(201).string("code");
    let validate_hot = |i| checkout(get, &hot, i).token(&t.token_b);
    let warm_hot = || validate_hot(0);
    for instance in [&t, &m] {
        assert_eq!(instance.send(warm_hot()).await.status, 200);
    }
    let spec = Spec::new(
        "validate, `high_demand` coupon (8 counter shards)",
        "limiter and guessing block; the coupon `GetItem` and a `BatchGetItem` of its 8 shards, strongly consistent",
    );
    rows.push(row(&t, &m, &meter, spec, &warm_hot, |_, _| {}, validate_hot).await);
    let spec = Spec::new(
        "consume, warm, `high_demand` coupon",
        "limiter and guessing block; one transaction: a shard `Update` and the log row `Put`; shards have no GSI1 entry",
    );
    let consume_hot = |i| checkout(post, &hot, i).token(&t.token_b);
    rows.push(row(&t, &m, &meter, spec, &warm_hot, |_, _| {}, consume_hot).await);
    // A campaign code: the campaign's terms and both budgets, big enough
    // for every run (tenant B's too).
    let made = t
        .send(post("/campaigns").token(&t.token_b).json(json!({
            "name": "Capacity", "product_id": "apple123", "discount_fixed": "20",
            "currency": "EUR", "budget_uses": 10_000_000, "budget_amount": "100000000",
        })))
        .await;
    let campaign = made.expect(201).string("campaign_id");
    let response = t
        .send(post("/coupon").token(&t.token_b).json(json!({
            "campaign_id": campaign, "availability_count": 10_000_000,
        })))
        .await;
    let campaign_code = response.expect(201).string("code");
    let validate_campaign = |i| checkout(get, &campaign_code, i).token(&t.token_b);
    let warm_campaign = || validate_campaign(0);
    for instance in [&t, &m] {
        assert_eq!(instance.send(warm_campaign()).await.status, 200);
    }
    let spec = Spec::new(
        "validate, campaign code (budgets of uses and money)",
        "limiter and guessing block; the coupon `GetItem`, its campaign (`BatchGetItem` of 1), then the campaign and its 8 budget shards (`BatchGetItem`, strongly consistent) for what is left",
    );
    rows.push(
        row(
            &t,
            &m,
            &meter,
            spec,
            &warm_campaign,
            |_, _| {},
            validate_campaign,
        )
        .await,
    );
    let spec = Spec::new(
        "consume, warm, campaign code",
        "limiter and guessing block; one transaction: the coupon `Update`, one budget shard `Update` (revision and room), the log row `Put`",
    );
    let consume_campaign = |i| checkout(post, &campaign_code, i).token(&t.token_b);
    rows.push(
        row(
            &t,
            &m,
            &meter,
            spec,
            &warm_campaign,
            |_, _| {},
            consume_campaign,
        )
        .await,
    );
    let spec = Spec::new(
        "details (`GET /coupon?code=`)",
        "limiter and guessing block; strongly consistent `GetItem`",
    );
    let details = |_| get(&format!("/coupon?code={code}")).token(&token);
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, details).await);
    let spec = Spec::new(
        "list, one page (`GET /coupon`, 25 coupons)",
        "limiter; one GSI1 `Query` of 26 items (one more tells whether more follow), eventually consistent",
    );
    let list = |_| get("/coupon").token(&token);
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, list).await);
    let spec = Spec {
        status: 201,
        ..Spec::new(
            "create one (`POST /coupon`, generated code)",
            "limiter; live-code counter `UpdateItem`; conditional `PutItem`, and its GSI1 entry",
        )
    };
    let create_one = |_| post("/coupon").token(&token).json(coupon.clone());
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, create_one).await);
    let spec = Spec {
        status: 201,
        cpu_runs: 5,
        metered_runs: 3,
        per: 100.0,
        unit: "code",
        ..Spec::new(
            "create 100 (`POST /coupon`, `quantity=100`)",
            "limiter; counter; 100 conditional `PutItem`s, 16 in flight, and their GSI1 entries",
        )
    };
    let create_batch = |_| {
        let mut body = coupon.clone();
        body["quantity"] = json!(100);
        post("/coupon").token(&token).json(body)
    };
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, create_batch).await);

    fill_log(&t, from, to, EXPORT_ROWS).await;
    let export_body = json!({"from": rfc3339(from), "to": rfc3339(to)});
    let spec = Spec {
        status: 201,
        cpu_runs: 3,
        metered_runs: 3,
        memory_mb: 1024.0,
        ..Spec::new(
            "export 1,000 log rows (`POST /exports`)",
            "limiter; a `Query` of each of the day's eight log shards, eventually consistent; export record `PutItem` and its GSI1 entry",
        )
    };
    let export = |_| post("/exports").token(&token).json(export_body.clone());
    let exported = m.send(export(0)).await.json();
    assert_eq!(exported["rows"], EXPORT_ROWS, "{exported}");
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, export).await);
    fill_log(&t, from, to, 10 * EXPORT_ROWS).await;
    let exported = m.send(export(0)).await.json();
    assert_eq!(exported["rows"], 10 * EXPORT_ROWS, "{exported}");
    let spec = Spec {
        status: 201,
        cpu_runs: 3,
        metered_runs: 3,
        memory_mb: 1024.0,
        per: 10.0,
        unit: "1,000 rows",
        ..Spec::new(
            "export 10,000 log rows (`POST /exports`)",
            "as above, with ten times the rows",
        )
    };
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, export).await);

    // The log as an API, over the 10,000 rows above.
    let spec = Spec::new(
        "log by code, one page (`GET /redemptions?code=`, 25 rows)",
        "limiter; a `Query` of each of the code's eight shards of the log by code (GSI1), 26 items at most each, eventually consistent; merged newest first",
    );
    let by_code = |_| get(&format!("/redemptions?code={code}")).token(&token);
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, by_code).await);
    let spec = Spec::new(
        "log by customer, one page (`GET /redemptions?customer_id=`)",
        "limiter; a `Query` of each of the customer's eight shards of the log by customer (GSI2); this customer has about 20 rows",
    );
    let by_customer = |_| get("/redemptions?customer_id=cust-0001").token(&token);
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, by_customer).await);
    let spec = Spec::new(
        "log by time, one page (`GET /redemptions`, 25 rows)",
        "limiter; the tenant item (`GetItem`: the first day the walk may reach; auth caches its own read, not this one); a `Query` of each of the day's eight log partitions",
    );
    let by_time = |_| get("/redemptions").token(&token);
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, by_time).await);
    let newest = t.send(get("/redemptions?limit=1").token(&token)).await;
    let newest = newest.json()["data"][0]["redemption_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let spec = Spec::new(
        "one log row (`GET /redemptions/{id}`)",
        "limiter; strongly consistent `GetItem` of the row (its id locates it)",
    );
    let entry = |_| get(&format!("/redemptions/{newest}")).token(&token);
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, entry).await);

    // Personal codes: a pool of a campaign's codes handed out one by one.
    let pool = t
        .send(
            post("/campaigns")
                .token(&token)
                .json(json!({"name": "Pool", "discount_fixed": "5"})),
        )
        .await
        .string("campaign_id");
    let made = t
        .send(
            post("/coupon")
                .token(&token)
                .json(json!({"campaign_id": pool, "quantity": 150})),
        )
        .await;
    made.expect(201);
    let spec = Spec {
        status: 201,
        ..Spec::new(
            "assign a pool code (`POST /coupon/assign`, with `source_id`)",
            "limiter; the assignment record `GetItem`; a `Query` of 25 pool codes (GSI3); one transaction: the code `Update` (owner, GSI3 entry moved) and the record `Put`; the code read back with its campaign",
        )
    };
    let assign = |i: usize| {
        post("/coupon/assign").token(&token).json(json!({
            "campaign_id": pool, "customer_id": format!("assignee-{i}"), "source_id": format!("src-{i}"),
        }))
    };
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, assign).await);
    let spec = Spec::new(
        "a customer's codes (`GET /coupon?customer_id=`)",
        "limiter; one GSI3 `Query`; the code's campaign (`BatchGetItem`)",
    );
    let personal = |_| get("/coupon?customer_id=assignee-101").token(&token);
    rows.push(row(&t, &m, &meter, spec, &warm, |_, _| {}, personal).await);

    print_tables(&rows);
    let sizes = [
        ("coupon", rows[8].measured.largest_item("GetItem")),
        ("log row", rows[12].measured.largest_item("Query")),
    ];
    println!("Largest items read: {sizes:?} bytes.");
}

/// The meter's sizes, against DynamoDB's worked rules.
#[test]
fn item_sizes_follow_dynamodb_rules() {
    assert_eq!(number_size("0"), 2);
    assert_eq!(number_size("12300"), 3); // "123": two bytes of digits, plus one
    assert_eq!(number_size("-0.00125"), 3);
    let item = HashMap::from([
        ("PK".to_owned(), AttributeValue::S("T#a".into())), // 2 + 3
        ("n".to_owned(), AttributeValue::N("1000".into())), // 1 + 2
        ("ok".to_owned(), AttributeValue::Bool(true)),      // 2 + 1
        (
            "l".to_owned(), // 1 + 3 + (1 + 1) + (1 + 2)
            AttributeValue::L(vec![
                AttributeValue::Null(true),
                AttributeValue::S("ab".into()),
            ]),
        ),
    ]);
    assert_eq!(item_size(&item), 5 + 3 + 3 + 9);
}

/// What a campaign's import and its codes' deletion cost per code: the
/// request that accepts the import (its input items), the worker's runs
/// over 2,000 codes (two batches), then the delete job and the clean-up
/// of what each deleted code leaves, all divided by the codes.
#[tokio::test]
#[ignore = "benchmark: run by `make bench`"]
async fn campaign_jobs_capacity_per_code() {
    const CODES: usize = 2_000;
    let app = TestApp::new().await;
    let meter = Meter::start();
    let m = instance(&app, Some(&meter)).await;
    let campaign = m
        .send(
            post("/campaigns")
                .token(&m.token_a)
                .json(json!({"name": "Metered"})),
        )
        .await
        .string("campaign_id");
    let csv: String = (0..CODES).map(|i| format!("IMPORTED-{i:06}\n")).collect();
    let run_worker = || async {
        let mut context = lambda_runtime::Context::default();
        context.deadline = (Utc::now() + chrono::Duration::minutes(15)).timestamp_millis() as u64;
        let event = lambda_runtime::LambdaEvent::new(json!({}), context);
        coupon_jobs::handle(&m.app().store, event).await.unwrap();
    };
    meter.take();
    let mut out = String::new();
    let mut measure = |name: &str, calls: Vec<Call>| {
        let mut measured = Measured::new(name);
        measured.add(calls);
        let per_code = |x: f64| number(x / CODES as f64);
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            measured.requests("DynamoDB"),
            per_code(measured.read_units()),
            per_code(measured.write_units()),
            measured.largest_item("PutItem"),
        )
        .unwrap();
    };
    let accepted = m
        .send(
            post(&format!("/campaigns/{campaign}/import"))
                .token(&m.token_a)
                .raw("text/csv", &csv),
        )
        .await;
    accepted.expect(202);
    measure(
        "import accepted (`POST /campaigns/{id}/import`)",
        meter.take(),
    );
    run_worker().await;
    measure("import worked (the worker)", meter.take());
    let deleting = m
        .send(delete(&format!("/campaigns/{campaign}/codes")).token(&m.token_a))
        .await;
    deleting.expect(202);
    run_worker().await;
    // The deleted codes' clean-up tasks, done by the next run.
    run_worker().await;
    measure(
        "codes deleted (`DELETE /campaigns/{id}/codes`, the worker)",
        meter.take(),
    );
    println!(
        "{CODES} codes; requests in all, units per code\n\
         | job | DynamoDB requests | RCU per code | WCU per code | largest item put (bytes) |\n\
         |---|---|---|---|---|\n{out}"
    );
}

/// Write and read units of the two hottest routes, warm (a few requests;
/// part of `make test`): validate reads the coupon once, strongly (1 RCU)
/// after the limiter's write (1 WCU); consume writes the limiter (1), the
/// coupon and the log row in a transaction (2 × 2), the coupon's GSI1
/// entry (1) and the row's entry in the log by code (GSI1, 1); with a
/// customer id, also in the log by customer (GSI2, 1). Both read their
/// identity's guessing block beside the limiter's write (0.5 RCU,
/// eventually consistent).
#[tokio::test]
async fn warm_validate_and_consume_capacity_units() {
    let app = TestApp::new().await;
    let meter = Meter::start();
    let m = instance(&app, Some(&meter)).await;
    let code = m
        .create_coupon(json!({"availability_count": 10, "product_id": "apple123"}))
        .await;
    let path = format!("/coupon/consume?code={code}&product_id=apple123");
    assert_eq!(m.send(get(&path).token(&m.token_a)).await.status, 200);
    meter.take();
    let units = |calls: Vec<Call>| {
        let mut measured = Measured::new("");
        measured.add(calls);
        let units = (
            measured.read_units(),
            measured.table_write_units(),
            measured.index_write_units(),
        );
        (units, measured.requests("DynamoDB"))
    };

    assert_eq!(m.send(get(&path).token(&m.token_a)).await.status, 200);
    assert_eq!(
        units(meter.take()),
        ((1.5, 1.0, 0.0), "3: UpdateItem 1, GetItem 2".to_owned())
    );
    assert_eq!(m.send(post(&path).token(&m.token_a)).await.status, 200);
    assert_eq!(
        units(meter.take()),
        (
            (0.5, 5.0, 2.0),
            "3: UpdateItem 1, GetItem 1, TransactWriteItems 1".to_owned()
        )
    );
    let by_customer = format!("{path}&customer_id=c-1");
    assert_eq!(
        m.send(post(&by_customer).token(&m.token_a)).await.status,
        200
    );
    assert_eq!(units(meter.take()).0, (0.5, 5.0, 3.0));
}

// ------------------------------------------------------ events pipeline ---

/// us-east-1 list prices of the events pipeline's other services, as of
/// 2026-11 (DynamoDB and Lambda's are above).
const EVENTBRIDGE_EVENT_PRICE: f64 = 1.00; // $ per million custom events put (per 64 KB chunk of an entry)
const SQS_REQUEST_PRICE: f64 = 0.40; // $ per million requests, standard queue (per 64 KB chunk of a payload)
/// template.yaml's `MemorySize` (Globals) of both functions.
const PIPELINE_MEMORY_MB: f64 = 256.0;
/// Assumed billed durations: an events batch does a handful of sequential
/// AWS round trips; a deliveries batch waits on its slowest receiver.
const EVENTS_BATCH_MS: f64 = 100.0;
const DELIVERIES_BATCH_MS: f64 = 300.0;
/// The events function's `BatchSize` (template.yaml, EventsFunction).
const STREAM_BATCH: usize = 100;
/// Consumes measured: each is one `redemption.succeeded` event.
const PIPELINE_EVENTS: usize = 300;

/// Whether Lambda's event source mapping hands `record` to the events
/// function: the `FilterCriteria` of template.yaml's EventsFunction.
/// Filtered records are never handed over, so they make no invocation.
fn passes_stream_filter(record: &Value) -> bool {
    let event_name = record["eventName"].as_str().unwrap_or_default();
    let image = &record["dynamodb"]["NewImage"];
    let s = |name: &str| image[name]["S"].as_str();
    match s("type") {
        Some("redemption" | "coupon" | "coupon_cleanup") if event_name == "INSERT" => true,
        Some("export") => true,
        Some("job") => matches!(s("status"), Some("succeeded" | "failed")),
        Some("coupon" | "coupon_shard") if event_name == "MODIFY" => {
            image["uses_left"]["N"].as_str() == Some("0")
        }
        _ => false,
    }
}

/// One step of the events pipeline over a run of events: what its
/// function asked of AWS, and what Lambda's event source mapping did for it.
#[derive(Default)]
struct PipelineStep {
    name: String,
    /// The function's own requests (DynamoDB, EventBridge, SQS).
    calls: Vec<Call>,
    /// Events put on the bus (EventBridge bills entries, not requests).
    bus_entries: usize,
    /// The event source mapping's SQS requests: one `ReceiveMessage` per
    /// batch, one `DeleteMessageBatch` per batch with messages done.
    esm_receives: usize,
    esm_delete_batches: usize,
    invocations: usize,
    /// Assumed billed Lambda time over all invocations.
    lambda_ms: f64,
}

impl PipelineStep {
    fn new(name: &str) -> PipelineStep {
        PipelineStep {
            name: name.to_owned(),
            ..PipelineStep::default()
        }
    }

    /// Both steps as one.
    fn and(&self, other: &PipelineStep, name: &str) -> PipelineStep {
        PipelineStep {
            name: name.to_owned(),
            calls: self.calls.iter().chain(&other.calls).cloned().collect(),
            bus_entries: self.bus_entries + other.bus_entries,
            esm_receives: self.esm_receives + other.esm_receives,
            esm_delete_batches: self.esm_delete_batches + other.esm_delete_batches,
            invocations: self.invocations + other.invocations,
            lambda_ms: self.lambda_ms + other.lambda_ms,
        }
    }

    /// The calls as [`Measured`] per event (conditional writes refused are
    /// expected here: they are billed, and counted by `refused`).
    fn measured(&self, events: usize) -> Measured {
        Measured {
            name: self.name.clone(),
            runs: events,
            calls: self.calls.clone(),
            rounds: 0,
            assumed_latency_ms: 0.0,
        }
    }

    fn count(&self, service: &str) -> usize {
        self.calls.iter().filter(|c| c.service == service).count()
    }

    /// SQS bills a request per started 64 KB of its payload.
    fn sqs_billed(&self) -> f64 {
        let billed: u64 = self
            .calls
            .iter()
            .filter(|c| c.service == "SQS")
            .map(|c| c.bytes_sent.max(1).div_ceil(64 * 1024))
            .sum();
        (billed + (self.esm_receives + self.esm_delete_batches) as u64) as f64
    }

    fn refused(&self) -> Vec<String> {
        let mut refused: Vec<String> = Vec::new();
        for call in self.calls.iter().filter(|c| c.error.is_some()) {
            refused.push(format!("{} {}", call.op, call.error.as_deref().unwrap()));
        }
        refused
    }
}

/// Up to three decimals, trailing zeros dropped.
fn per(x: f64, events: usize) -> String {
    let text = format!("{:.3}", x / events as f64);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// "0.06: BatchGetItem 0.01, Query 0.01, BatchWriteItem 0.04", per event.
fn requests_per_event(step: &PipelineStep, service: &str, events: usize) -> String {
    let mut order: Vec<&str> = Vec::new();
    for call in step.calls.iter().filter(|c| c.service == service) {
        if !order.contains(&call.op.as_str()) {
            order.push(&call.op);
        }
    }
    if order.is_empty() {
        return "0".to_owned();
    }
    let count = |op: &str| {
        step.calls
            .iter()
            .filter(|c| c.service == service && c.op == op)
            .count() as f64
    };
    let parts: Vec<String> = order
        .iter()
        .map(|op| format!("{op} {}", per(count(op), events)))
        .collect();
    format!(
        "{}: {}",
        per(step.count(service) as f64, events),
        parts.join(", ")
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Receiving {
    /// No webhook: the bus alone.
    NoWebhook,
    /// One catch-all webhook, answering 204.
    Accepts,
    /// One catch-all webhook that refuses each event's first attempt.
    RefusesFirstAttempts,
}

/// `PIPELINE_EVENTS` consumes through the events function, then the
/// deliveries: the two steps, metered, the consumes themselves not.
async fn event_pipeline_run(
    app: &TestApp,
    m: &TestApp,
    meter: &Meter,
    receiving: Receiving,
) -> (PipelineStep, PipelineStep) {
    let sdk = sdk_config().await;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(meter.clone())
            .build(),
    );
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .interceptor(meter.clone())
            .build(),
    );
    // A retry at once: the second attempt is the next round's.
    let mut pipeline = Pipeline::with_clients(m, "0", sqs, eventbridge).await;
    let receiver = Receiver::start();
    if receiving != Receiving::NoWebhook {
        crate::event_stream::catch_all_hook(app, &receiver.url("bench")).await;
    }
    let code = app
        .create_coupon(json!({"availability_count": 1_000}))
        .await;
    // The coupon's coupon.created, handed on and delivered unmeasured.
    pipeline.pump().await;
    pipeline.deliver().await;
    for i in 0..PIPELINE_EVENTS {
        app.send(
            post("/coupon/consume")
                .token(&app.token_a)
                .json(json!({"code": code, "customer_id": format!("c-{i}")})),
        )
        .await
        .expect(200);
    }
    let records = pipeline.new_records().await;
    let all_records = records.len();
    let handed: Vec<Value> = records.into_iter().filter(passes_stream_filter).collect();
    eprintln!(
        "{receiving:?}: {all_records} stream records, {} through the filter",
        handed.len()
    );
    meter.take();

    let mut events = PipelineStep::new("events function");
    let mut deliveries_queued = 0;
    for chunk in handed.chunks(STREAM_BATCH) {
        let report = pipeline.hand_on(chunk).await;
        events.bus_entries += report["events"].as_u64().unwrap() as usize;
        deliveries_queued += report["deliveries"].as_u64().unwrap() as usize;
        events.invocations += 1;
        events.lambda_ms += EVENTS_BATCH_MS;
    }
    events.calls = meter.take();
    assert_eq!(events.bus_entries, PIPELINE_EVENTS);
    let wanted = match receiving {
        Receiving::NoWebhook => 0,
        _ => PIPELINE_EVENTS,
    };
    assert_eq!(deliveries_queued, wanted);

    // Lambda's SQS event source, one round a batch: the harness receives
    // and deletes with the same (metered) client, so each round's calls
    // are split into the function's and the event source mapping's. The
    // harness deletes a message at a time where Lambda's poller sends one
    // `DeleteMessageBatch` per batch: counted as that.
    let mut deliveries = PipelineStep::new("webhook-deliveries function");
    let mut round = 0;
    loop {
        if receiving == Receiving::RefusesFirstAttempts && round % 2 == 0 {
            // moto hands the oldest visible messages first, so a round's
            // refused messages (shown again at once) are the next round's:
            // fresh rounds and retry rounds alternate.
            receiver.control("/fail/bench/10", "");
        }
        let handed = pipeline.deliver_once().await;
        let calls = meter.take();
        if handed == 0 {
            // The poll that finds the queue empty: idle polling, a fixed
            // cost of the event source, not a cost per event.
            break;
        }
        round += 1;
        deliveries.invocations += 1;
        deliveries.lambda_ms += DELIVERIES_BATCH_MS;
        let mut deleted = false;
        for call in calls {
            match call.op.as_str() {
                "ReceiveMessage" => deliveries.esm_receives += 1,
                "DeleteMessage" => deleted = true,
                _ => deliveries.calls.push(call),
            }
        }
        if deleted {
            deliveries.esm_delete_batches += 1;
        }
    }

    let received = receiver.received("bench");
    let statuses = |status: u64| received.iter().filter(|r| r["status"] == status).count();
    match receiving {
        Receiving::NoWebhook => assert!(received.is_empty()),
        // Plus the coupon's coupon.created, before.
        Receiving::Accepts => assert_eq!((statuses(204), statuses(500)), (301, 0)),
        Receiving::RefusesFirstAttempts => {
            assert_eq!((statuses(204), statuses(500)), (301, 300));
            let mut attempts: HashMap<String, Vec<u64>> = HashMap::new();
            for r in &received {
                let id = r["headers"]["webhook-id"].as_str().unwrap().to_owned();
                attempts
                    .entry(id)
                    .or_default()
                    .push(r["status"].as_u64().unwrap());
            }
            let twice = attempts.values().filter(|s| *s == &[500, 204]).count();
            assert_eq!(
                twice, PIPELINE_EVENTS,
                "each event refused once, then taken"
            );
        }
    }
    (events, deliveries)
}

/// What the events pipeline asks of AWS per event: `PIPELINE_EVENTS`
/// consumes (one `redemption.succeeded` each) handed to the events function
/// in stream batches of 100, then delivered to one catch-all webhook in
/// SQS batches of 10; again with no webhook (the bus alone); and with a
/// receiver that refuses each event's first attempt (one retry each).
#[tokio::test]
#[ignore = "benchmark: run by `make bench`"]
async fn event_pipeline_requests_per_event() {
    let mut rows: Vec<(String, PipelineStep)> = Vec::new();
    for (receiving, label) in [
        (Receiving::Accepts, "one webhook"),
        (Receiving::NoWebhook, "no webhook"),
        (
            Receiving::RefusesFirstAttempts,
            "one webhook, each first attempt refused",
        ),
    ] {
        let app = TestApp::new().await;
        let meter = Meter::start();
        let m = instance(&app, Some(&meter)).await;
        let (events, deliveries) = event_pipeline_run(&app, &m, &meter, receiving).await;
        let total = events.and(&deliveries, "total");
        match receiving {
            Receiving::Accepts => {
                rows.push((label.to_owned(), events));
                rows.push((label.to_owned(), deliveries));
            }
            Receiving::NoWebhook => rows.push((label.to_owned(), events)),
            Receiving::RefusesFirstAttempts => rows.push((label.to_owned(), deliveries)),
        }
        rows.push((label.to_owned(), total));
    }

    let n = PIPELINE_EVENTS;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | step | DynamoDB requests (by API) | RCU | WCU | EventBridge requests | SQS requests by the function | SQS requests by the event source mapping (receive + batch delete) | Lambda invocations | $ per million events |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    let mut costs = String::new();
    let _ = writeln!(
        costs,
        "| scenario | step | DynamoDB | EventBridge | SQS | Lambda requests | Lambda duration (assumed) | total |"
    );
    let _ = writeln!(costs, "|---|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    for (scenario, step) in &rows {
        let measured = step.measured(n);
        let per_million = |x: f64, price: f64| x / n as f64 * price;
        let dynamodb =
            measured.read_units() * READ_UNIT_PRICE + measured.write_units() * WRITE_UNIT_PRICE;
        let eventbridge = per_million(step.bus_entries as f64, EVENTBRIDGE_EVENT_PRICE);
        let sqs = per_million(step.sqs_billed(), SQS_REQUEST_PRICE);
        let lambda_requests = per_million(step.invocations as f64, LAMBDA_REQUEST_PRICE);
        let lambda_duration = per_million(
            PIPELINE_MEMORY_MB / 1024.0 * step.lambda_ms / 1e3,
            LAMBDA_GB_SECOND_PRICE * 1e6,
        );
        let total = dynamodb + eventbridge + sqs + lambda_requests + lambda_duration;
        let _ = writeln!(
            out,
            "| {scenario} | {} | {} | {} | {} ({} + {}) | {} | {} | {} ({} + {}) | {} | ${} |",
            step.name,
            requests_per_event(step, "DynamoDB", n),
            per(measured.read_units(), 1),
            per(measured.write_units(), 1),
            per(measured.table_write_units(), 1),
            per(measured.index_write_units(), 1),
            requests_per_event(step, "EventBridge", n),
            requests_per_event(step, "SQS", n),
            per((step.esm_receives + step.esm_delete_batches) as f64, n),
            per(step.esm_receives as f64, n),
            per(step.esm_delete_batches as f64, n),
            per(step.invocations as f64, n),
            money(total),
        );
        let _ = writeln!(
            costs,
            "| {scenario} | {} | ${} | ${} | ${} | ${} | ${} | ${} |",
            step.name,
            money(dynamodb),
            money(eventbridge),
            money(sqs),
            money(lambda_requests),
            money(lambda_duration),
            money(total),
        );
        let refused = step.refused();
        if !refused.is_empty() && step.name != "total" {
            let mut counted: Vec<(String, usize)> = Vec::new();
            for r in refused {
                match counted.iter_mut().find(|(what, _)| *what == r) {
                    Some((_, count)) => *count += 1,
                    None => counted.push((r, 1)),
                }
            }
            notes.push(format!("{scenario}, {}: refused {counted:?}", step.name));
        }
    }
    println!(
        "{n} events (`redemption.succeeded`, one per consume); figures per event, costs per million events (us-east-1)\n\n{out}\n{costs}"
    );
    println!(
        "Lambda: {PIPELINE_MEMORY_MB} MB arm64, an ASSUMED billed duration of {EVENTS_BATCH_MS} ms per events batch (100 stream records) and {DELIVERIES_BATCH_MS} ms per deliveries batch (10 messages; the receivers' latency dominates). \
         Stream batches hold only the records the event source's filter passes (one log row per consume; the limiter's and the coupon's writes are filtered out, uninvoiced); Lambda's reads of the stream are free. \
         EventBridge bills each event put (entry), SQS each request per 64 KB of payload. \
         The SQS event source's idle polling (long polls of an empty queue) is a fixed cost, not counted here."
    );
    let batches: Vec<u64> = rows[0]
        .1
        .calls
        .iter()
        .filter(|c| c.op == "SendMessageBatch")
        .map(|c| c.bytes_sent)
        .collect();
    notes.push(format!(
        "SendMessageBatch (10 messages): {:.1} KB sent on average, {:.1} KB at most",
        batches.iter().sum::<u64>() as f64 / batches.len() as f64 / 1024.0,
        batches.iter().copied().max().unwrap_or(0) as f64 / 1024.0
    ));
    for note in notes {
        println!("{note}");
    }
}
