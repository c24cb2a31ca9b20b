//! The events pipeline of a test app, on moto: the table's stream read as
//! Lambda's event source mapping reads it and handed to the events
//! function, an EventBridge bus with a rule that copies every event to a
//! queue the test reads, the webhook queue handed to the deliveries
//! function as its SQS event source would, and a loopback receiver that
//! checks signatures with the Standard Webhooks reference library
//! (scripts/webhook_receiver.py).

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use common::queue::MessageQueue;
use common::ssrf::AddressPolicy;
use common::webhook::RetrySchedule;
use events::{EventBus, EventsApp};
use serde_json::{Value, json};
use webhook_deliveries::{Courier, WebhookClient};

use crate::helpers::{TestApp, sdk_config};

pub struct Pipeline {
    pub events: EventsApp,
    pub courier: Courier,
    pub sqs: aws_sdk_sqs::Client,
    /// The webhook queue.
    pub queue_url: String,
    /// Where the bus's rule copies every event.
    bus_copy_url: String,
    stream: StreamReader,
}

impl Pipeline {
    /// The pipeline of `t`'s table; `schedule` is the deliveries' retry schedule.
    pub async fn new(t: &TestApp, schedule: &str) -> Pipeline {
        let sdk = sdk_config().await;
        Pipeline::with_clients(
            t,
            schedule,
            aws_sdk_sqs::Client::new(&sdk),
            aws_sdk_eventbridge::Client::new(&sdk),
        )
        .await
    }

    /// As [`Pipeline::new`], with the SQS and EventBridge clients given
    /// (metered ones, say). The functions and the test's own helpers
    /// (`deliver_once`'s receives and deletes, `queued`, `bus_events`)
    /// share the SQS client.
    pub async fn with_clients(
        t: &TestApp,
        schedule: &str,
        sqs: aws_sdk_sqs::Client,
        eventbridge: aws_sdk_eventbridge::Client,
    ) -> Pipeline {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let queue = |name: String| {
            let sqs = sqs.clone();
            async move {
                sqs.create_queue()
                    .queue_name(name)
                    .send()
                    .await
                    .expect("create queue")
                    .queue_url
                    .unwrap()
            }
        };
        let queue_url = queue(format!("webhooks-{id}")).await;
        let bus_copy_url = queue(format!("bus-copy-{id}")).await;
        let bus = format!("bus-{id}");
        eventbridge
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("create bus");
        let copy_arn = sqs
            .get_queue_attributes()
            .queue_url(&bus_copy_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        eventbridge
            .put_rule()
            .name("every-coupon-event")
            .event_bus_name(&bus)
            .event_pattern(r#"{"source": ["coupon-service"]}"#)
            .send()
            .await
            .expect("put rule");
        eventbridge
            .put_targets()
            .rule("every-coupon-event")
            .event_bus_name(&bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("copy")
                    .arn(copy_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("put targets");
        let store = t.app().store.clone();
        let events = EventsApp {
            store: store.clone(),
            bus: EventBus::new(eventbridge, bus),
            webhooks: MessageQueue::new(sqs.clone(), &queue_url),
        };
        let courier = Courier {
            store,
            queue: MessageQueue::new(sqs.clone(), &queue_url),
            schedule: RetrySchedule::parse(schedule).expect("a retry schedule"),
            policy: AddressPolicy {
                allow_loopback: true,
            },
            client: WebhookClient::new(),
            disable_after: chrono::Duration::hours(24),
            clock: Default::default(),
        };
        let stream = StreamReader::new(t).await;
        Pipeline {
            events,
            courier,
            sqs,
            queue_url,
            bus_copy_url,
            stream,
        }
    }

    /// The stream records written since the last call, as Lambda hands them over.
    pub async fn new_records(&mut self) -> Vec<Value> {
        self.stream.read()
    }

    /// Hands `records` to the events function; answers its report.
    pub async fn hand_on(&self, records: &[Value]) -> Value {
        let event = lambda_runtime::LambdaEvent::new(
            json!({ "Records": records }),
            lambda_runtime::Context::default(),
        );
        events::handle(&self.events, event)
            .await
            .expect("the events function hands the batch on")
    }

    /// New stream records through the events function; answers its report.
    pub async fn pump(&mut self) -> Value {
        let records = self.new_records().await;
        self.hand_on(&records).await
    }

    /// One round of the deliveries' event source: receives what is visible
    /// (ten at most) and hands it over as one batch; deletes the messages
    /// not reported failed. Answers how many were handed over.
    pub async fn deliver_once(&self) -> usize {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            return 0;
        }
        let mut event = SqsEvent::default();
        for message in &received {
            let mut record = SqsMessage::default();
            record.message_id = message.message_id.clone();
            record.receipt_handle = message.receipt_handle.clone();
            record.body = message.body.clone();
            record.attributes = message
                .attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect();
            event.records.push(record);
        }
        let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        let response = webhook_deliveries::handle(&self.courier, event)
            .await
            .expect("deliveries report failures per message");
        for message in &received {
            let failed = response
                .batch_item_failures
                .iter()
                .any(|f| Some(&f.item_identifier) == message.message_id.as_ref());
            if !failed {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(message.receipt_handle.clone().unwrap())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        received.len()
    }

    /// Delivery rounds until a round finds nothing visible.
    pub async fn deliver(&self) -> usize {
        let mut handed = 0;
        loop {
            match self.deliver_once().await {
                0 => return handed,
                n => handed += n,
            }
        }
    }

    /// The webhook queue's messages (bodies), read and left there (made
    /// visible again at once).
    pub async fn queued(&self) -> Vec<Value> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        let mut bodies = Vec::new();
        for message in received {
            self.sqs
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(message.receipt_handle.unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .expect("show again");
            bodies.push(serde_json::from_str(&message.body.unwrap()).unwrap());
        }
        bodies
    }

    /// The events the bus's rule copied since the last call (EventBridge
    /// envelopes: `detail-type`, `source`, `detail`).
    pub async fn bus_events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.bus_copy_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            if received.is_empty() {
                return events;
            }
            for message in received {
                events.push(serde_json::from_str(message.body.as_deref().unwrap()).unwrap());
                self.sqs
                    .delete_message()
                    .queue_url(&self.bus_copy_url)
                    .receipt_handle(message.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
}

/// The table's stream, read with moto's DynamoDB Streams API over plain
/// HTTP (its JSON records are what Lambda hands a function). Each read
/// starts from a fresh iterator after the last record read, as
/// scripts/local_stream.py does.
pub struct StreamReader {
    endpoint: String,
    arn: String,
    shard: String,
    last: Option<String>,
}

impl StreamReader {
    pub async fn new(t: &TestApp) -> StreamReader {
        let table = t
            .client
            .describe_table()
            .table_name(&t.table)
            .send()
            .await
            .expect("describe table");
        let arn = table
            .table
            .unwrap()
            .latest_stream_arn
            .expect("the table has a stream");
        let endpoint = sdk_config().await.endpoint_url().unwrap().to_owned();
        let mut reader = StreamReader {
            endpoint,
            arn,
            shard: String::new(),
            last: None,
        };
        let description = reader.call("DescribeStream", json!({ "StreamArn": reader.arn }));
        // moto keeps one shard per stream.
        reader.shard = description["StreamDescription"]["Shards"][0]["ShardId"]
            .as_str()
            .unwrap()
            .to_owned();
        reader
    }

    pub fn read(&mut self) -> Vec<Value> {
        let mut request = json!({ "StreamArn": self.arn, "ShardId": self.shard });
        match &self.last {
            Some(sequence) => {
                request["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                request["SequenceNumber"] = json!(sequence);
            }
            None => request["ShardIteratorType"] = json!("TRIM_HORIZON"),
        }
        let mut iterator = self.call("GetShardIterator", request)["ShardIterator"].clone();
        let mut records = Vec::new();
        loop {
            let page = self.call("GetRecords", json!({ "ShardIterator": iterator }));
            let page_records = page["Records"].as_array().cloned().unwrap_or_default();
            if page_records.is_empty() {
                return records;
            }
            iterator = page["NextShardIterator"].clone();
            for mut record in page_records {
                self.last = record["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .map(str::to_owned);
                record["eventSourceARN"] = json!(self.arn);
                records.push(record);
            }
        }
    }

    fn call(&self, target: &str, body: Value) -> Value {
        let mut response = ureq::post(&self.endpoint)
            .header("X-Amz-Target", format!("DynamoDBStreams_20120810.{target}"))
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }
}

/// A loopback webhook receiver (scripts/webhook_receiver.py), stopped on drop.
pub struct Receiver {
    child: Child,
    pub port: u16,
}

impl Receiver {
    pub fn start() -> Receiver {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let port_file = std::env::temp_dir().join(format!("receiver-{}", uuid::Uuid::new_v4()));
        let child = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("scripts/webhook_receiver.py"))
            .arg(&port_file)
            .spawn()
            .expect("start scripts/webhook_receiver.py (make bootstrap installs its library)");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                break text.trim().parse().unwrap();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the receiver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let _ = std::fs::remove_file(&port_file);
        Receiver { child, port }
    }

    /// The URL of hook `name` at this receiver.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/hook/{name}", self.port)
    }

    pub fn control(&self, path: &str, body: &str) {
        ureq::post(&format!("http://127.0.0.1:{}{path}", self.port))
            .send(body)
            .expect("the receiver takes its settings");
    }

    /// What hook `name` received, in order.
    pub fn received(&self, name: &str) -> Vec<Value> {
        let mut response = ureq::get(&format!("http://127.0.0.1:{}/received/{name}", self.port))
            .call()
            .expect("the receiver lists what it got");
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
