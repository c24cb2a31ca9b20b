//! Every sample event in `events/` goes through its function's handler and
//! gets the status the README promises for it.

use std::path::Path;

use chrono::Utc;
use common::admin;
use common::tenant::{IssuedToken, Tenant, TenantId};

use crate::helpers::*;

/// The token in the sample events; `CMS_DEMO_TOKEN` set to it makes them
/// work against `make dev` too.
const EVENTS_TOKEN: &str = "cms_local_demo_token_for_events_only";

enum Outcome {
    /// An API Gateway event, and the status its function answers.
    Status(u16),
    /// The EventBridge schedule, which enqueues every tenant's day.
    Enqueued,
    /// A message of the daily export queue, which the worker exports.
    Exported,
    /// The worker's schedule, which finishes the bulk job created before.
    JobsFinished,
    /// Table stream records, of which this many events are handed on.
    HandedOn(u64),
    /// A webhook queue message that no delivery reports failed.
    Delivered,
}
use Outcome::*;

/// `events/expected.txt`, which `make sam-local` reads too: each file in
/// replay order, the function (template.yaml's logical id) that takes it,
/// and what it gets.
fn expected() -> Vec<(String, String, Outcome)> {
    crate::template::repo_file("events/expected.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let outcome = match fields[2..] {
                ["status", status] => Status(status.parse().unwrap()),
                ["enqueued"] => Enqueued,
                ["exported"] => Exported,
                ["jobs-finished"] => JobsFinished,
                ["handed-on", events] => HandedOn(events.parse().unwrap()),
                ["delivered"] => Delivered,
                _ => panic!("events/expected.txt: {line}"),
            };
            (fields[0].to_owned(), fields[1].to_owned(), outcome)
        })
        .collect()
}

#[tokio::test]
async fn every_sample_event_replays_with_its_status() {
    let t = TestApp::new().await;
    let demo = Tenant {
        id: TenantId::parse("demo").unwrap(),
        name: "demo".into(),
        rate_per_second: 50,
        burst: 100,
        created_at: Utc::now(),
    };
    admin::create_tenant(&t.app().store, demo.clone(), false)
        .await
        .unwrap();
    admin::issue_token(
        &t.app().store,
        &demo.id,
        IssuedToken::with_secret(EVENTS_TOKEN).unwrap(),
    )
    .await
    .unwrap();

    let queues = crate::daily_export::Queues::new().await;
    let pipeline = crate::pipeline::Pipeline::new(&t, "1").await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let expected = expected();
    let listed: Vec<&str> = expected.iter().map(|(file, ..)| file.as_str()).collect();
    assert_eq!(files, listed, "every event file is in events/expected.txt");

    for (file, function, outcome) in &expected {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        match outcome {
            Status(status) => {
                let request =
                    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let selected = crate::api_gateway::function_for(
                    request.method().as_str(),
                    common::request::raw_path(&request),
                );
                assert_eq!(
                    crate::api_gateway::binary_of(function),
                    selected.binary(),
                    "{file}: API Gateway sends it to another function than {function}"
                );
                let response = t.call(request).await;
                assert_eq!(response.status, *status, "{file}: {}", response.text());
            }
            Enqueued => {
                let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let event =
                    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
                let summary = export_schedule::handle(&queues.schedule(&t), event)
                    .await
                    .expect("the schedule runs");
                assert_eq!(
                    summary,
                    serde_json::json!({"day": "2026-11-23", "enqueued": 3}),
                    "the UTC day before the schedule fired, for tenant-a, tenant-b and demo"
                );
                let delivered = queues.deliver(&t.state).await;
                assert_eq!((delivered.invocations, delivered.failures), (3, 0));
                crate::exports::fetch(&t, "exports/demo/2026-11-23.xlsx").await;
            }
            Exported => {
                let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let event =
                    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
                let response = export_worker::handle(&t.state, event)
                    .await
                    .expect("the worker runs");
                assert!(
                    response.batch_item_failures.is_empty(),
                    "{file}: the day is exported"
                );
            }
            JobsFinished => {
                let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let mut context = lambda_runtime::Context::default();
                context.deadline =
                    (Utc::now() + chrono::Duration::minutes(15)).timestamp_millis() as u64;
                let event = lambda_runtime::LambdaEvent::new(event, context);
                let runs = coupon_jobs::handle(&t.app().store, event)
                    .await
                    .expect("the worker runs");
                let job = runs
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|run| run.get("job_id").is_some())
                    .unwrap_or_else(|| panic!("no job in {runs}"));
                assert_eq!(job["tenant"], "demo", "{runs}");
                assert_eq!(job["outcome"], "succeeded", "{runs}");
            }
            HandedOn(events) => {
                let event: serde_json::Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let report = pipeline.hand_on(event["Records"].as_array().unwrap()).await;
                assert_eq!(report["events"], *events, "{file}: {report}");
            }
            Delivered => {
                let event = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
                let event =
                    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
                let response = webhook_deliveries::handle(&pipeline.courier, event)
                    .await
                    .expect("the deliveries function runs");
                assert!(response.batch_item_failures.is_empty(), "{file}");
            }
        }
    }
}
