//! The daily export fans out per tenant: the scheduled function puts one
//! message per tenant on an SQS queue (moto's), the worker exports each
//! tenant's day alone, and a tenant whose export keeps failing ends in the
//! dead-letter queue while every other tenant's export is written.
//!
//! Lambda's SQS event source mapping is not part of moto: [`Queues::deliver`]
//! does its part here (receive, invoke with batch size 1, delete what
//! succeeded, leave the failures to come back), with the queue attributes
//! template.yaml deploys.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use chrono::{DateTime, Utc};
use common::admin;
use common::queue::MessageQueue;
use common::tenant::{Tenant, TenantId};
use export_schedule::ScheduleApp;
use exports::{Exporter, ExportsApp};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

/// The receives after which template.yaml's queue gives a message to its
/// dead-letter queue.
fn max_receive_count() -> u32 {
    crate::template::template()["Resources"]["DailyExportQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
        .as_u64()
        .expect("DailyExportQueue has a redrive policy") as u32
}

/// A daily export queue and its dead-letter queue in moto, as template.yaml
/// makes them but for a visibility timeout of a second, so a failed
/// message comes back at once.
pub struct Queues {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
    pub dead_letters: String,
}

/// What a delivery did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Invocations of the worker, and messages it reported failed.
    pub invocations: usize,
    pub failures: usize,
}

impl Queues {
    pub async fn new() -> Queues {
        let sqs = aws_sdk_sqs::Client::new(&sdk_config().await);
        let name = format!("test-{}", uuid::Uuid::new_v4().simple());
        let dead_letters = sqs
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .send()
            .await
            .expect("create the dead-letter queue")
            .queue_url
            .unwrap();
        let dead_letters_arn = sqs
            .get_queue_attributes()
            .queue_url(&dead_letters)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        let redrive = json!({"deadLetterTargetArn": dead_letters_arn,
            "maxReceiveCount": max_receive_count().to_string()});
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::VisibilityTimeout, "1")
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .expect("create the daily export queue")
            .queue_url
            .unwrap();
        Queues {
            sqs,
            url,
            dead_letters,
        }
    }

    /// The scheduled function's state over the test's table and this queue.
    pub fn schedule(&self, t: &TestApp) -> ScheduleApp {
        ScheduleApp {
            store: t.app().store.clone(),
            queue: MessageQueue::new(self.sqs.clone(), &self.url),
        }
    }

    /// Runs the scheduled function as EventBridge would at `fired_at`.
    pub async fn run_schedule(&self, t: &TestApp, fired_at: DateTime<Utc>) -> Value {
        let event = serde_json::from_value(json!({"source": "aws.events",
            "detail-type": "Scheduled Event", "time": fired_at.to_rfc3339(), "detail": {}}))
        .unwrap();
        let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        export_schedule::handle(&self.schedule(t), event)
            .await
            .expect("the schedule enqueues")
    }

    /// Lambda's event source mapping until the queue is empty: up to ten
    /// messages a receive, each its own invocation (`BatchSize: 1`), five
    /// at a time; a message the worker reports failed is left to come back
    /// after its visibility timeout.
    pub async fn deliver(&self, state: &ExportsApp) -> Delivered {
        let mut delivered = Delivered::default();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while self.depth(&self.url).await > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the queue did not drain in 120 s"
            );
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            if received.is_empty() {
                // In flight or hidden after a failure; no long poll: the
                // emulator handles one request at a time (moto_server.py).
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            for chunk in received.chunks(5) {
                let outcomes = join_all(chunk.iter().map(|message| async move {
                    let mut record = SqsMessage::default();
                    record.message_id = message.message_id.clone();
                    record.receipt_handle = message.receipt_handle.clone();
                    record.body = message.body.clone();
                    let mut event = SqsEvent::default();
                    event.records = vec![record];
                    let event =
                        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
                    let response = export_worker::handle(state, event)
                        .await
                        .expect("the worker reports failures per message, never as an error");
                    (message, response.batch_item_failures.len())
                }))
                .await;
                for (message, failures) in outcomes {
                    delivered.invocations += 1;
                    delivered.failures += failures;
                    if failures == 0 {
                        self.sqs
                            .delete_message()
                            .queue_url(&self.url)
                            .receipt_handle(message.receipt_handle.clone().unwrap())
                            .send()
                            .await
                            .expect("delete");
                    }
                }
            }
        }
        delivered
    }

    /// Messages visible or in flight.
    pub async fn depth(&self, url: &str) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|name| attributes[name].parse::<usize>().unwrap())
        .sum()
    }

    /// The bodies in the dead-letter queue.
    pub async fn dead_letter_bodies(&self) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.dead_letters)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if received.is_empty() {
                return bodies;
            }
            bodies.extend(received.into_iter().filter_map(|m| m.body));
        }
    }
}

/// An HTTP client that fails every S3 upload under one tenant's prefix, as
/// an unreachable or refusing S3 would, after the SDK's retries.
#[derive(Debug, Clone)]
struct FailUploadsOf {
    prefix: Arc<str>,
    inner: SharedHttpClient,
}

impl HttpClient for FailUploadsOf {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FailingConnector {
            prefix: self.prefix.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FailingConnector {
    prefix: Arc<str>,
    inner: SharedHttpConnector,
}

impl HttpConnector for FailingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if request.method() == "PUT" && request.uri().contains(&*self.prefix) {
            return HttpConnectorFuture::ready(Err(ConnectorError::io(
                "injected: S3 refuses this tenant's uploads".into(),
            )));
        }
        self.inner.call(request)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_failing_tenant_does_not_stop_the_other_199() {
    const TENANTS: usize = 200;
    let t = TestApp::new().await;
    // tenant-a and tenant-b exist; 198 more.
    for i in 0..TENANTS - 2 {
        let tenant = Tenant {
            id: TenantId::parse(&format!("shop-{i:03}")).unwrap(),
            name: format!("Shop {i}"),
            rate_per_second: 50,
            burst: 100,
            created_at: Utc::now(),
        };
        admin::create_tenant(&t.app().store, tenant, false)
            .await
            .unwrap();
    }
    // One redemption of tenant A, so one workbook has a row.
    let code = t.create_coupon(json!({"availability_count": 2})).await;
    t.send(post(&format!("/coupon/consume?code={code}")).token(&t.token_a))
        .await
        .expect(200);

    // Every upload of shop-117's fails.
    let failing = "shop-117";
    let sdk = sdk_config().await;
    let broken = aws_sdk_s3::config::Builder::from(&sdk)
        .http_client(FailUploadsOf {
            prefix: format!("/exports/{failing}/").into(),
            inner: common::app::https_client(common::app::TlsRoots::System),
        })
        .force_path_style(true)
        .build();
    let worker = ExportsApp {
        app: common::App::new(
            t.app().store.clone(),
            Default::default(),
            Default::default(),
        ),
        exporter: Exporter::with(aws_sdk_s3::Client::from_conf(broken), &t.bucket),
    };

    let queues = Queues::new().await;
    let fired = Utc::now() + chrono::Duration::days(1);
    let run = queues.run_schedule(&t, fired).await;
    assert_eq!(run["enqueued"], TENANTS, "{run}");
    assert_eq!(queues.depth(&queues.url).await, TENANTS);

    let delivered = queues.deliver(&worker).await;

    let receives = max_receive_count() as usize;
    assert_eq!(
        (delivered.invocations, delivered.failures),
        (TENANTS - 1 + receives, receives),
        "each other tenant once, the failing one until its receives ran out"
    );
    let day = Utc::now().date_naive();
    assert_eq!(
        queues.dead_letter_bodies().await,
        [format!(r#"{{"tenant":"{failing}","day":"{day}"}}"#)],
        "the failing tenant's day waits in the dead-letter queue"
    );
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page =
            t.s3.list_objects_v2()
                .bucket(&t.bucket)
                .prefix("exports/")
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        match page.next_continuation_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(
        keys.len(),
        TENANTS - 1,
        "every other tenant's day is written"
    );
    assert!(keys.iter().all(|k| k.ends_with(&format!("/{day}.xlsx"))));
    assert!(!keys.iter().any(|k| k.contains(failing)));
    let rows = crate::exports::read_workbook(
        crate::exports::fetch(&t, &format!("exports/tenant-a/{day}.xlsx")).await,
    )
    .remove(0)
    .rows;
    assert_eq!(rows.len(), 2, "tenant A's redemption, under the header");
}

/// A message that is not a tenant day fails alone, and ends in the
/// dead-letter queue rather than being retried for ever.
#[tokio::test]
async fn a_malformed_message_fails_alone() {
    let t = TestApp::new().await;
    let queues = Queues::new().await;
    queues
        .sqs
        .send_message()
        .queue_url(&queues.url)
        .message_body(r#"{"tenant":"Not A Tenant!","day":"2026-12-01"}"#)
        .send()
        .await
        .unwrap();
    queues.run_schedule(&t, Utc::now()).await;
    let delivered = queues.deliver(&t.state).await;
    assert_eq!(delivered.failures, max_receive_count() as usize);
    assert_eq!(queues.dead_letter_bodies().await.len(), 1);
}
