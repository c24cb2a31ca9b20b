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
}
use Outcome::*;

/// File, in replay order, and what it gets.
const EXPECTED: &[(&str, Outcome)] = &[
    ("00-ping.json", Status(200)),
    ("01-create-coupon.json", Status(201)),
    ("02-get-coupon.json", Status(200)),
    ("03-list-coupons.json", Status(200)),
    ("04-validate-coupon.json", Status(200)),
    ("05-consume-coupon.json", Status(200)),
    ("06-update-coupon.json", Status(200)),
    ("07-delete-coupon.json", Status(204)),
    ("08-scheduled-export.json", Enqueued),
    ("09-create-bulk-job.json", Status(202)),
    ("10-resume-jobs.json", JobsFinished),
    // Bodies that are not UTF-8, which API Gateway passes on base64-encoded
    // (`cargo lambda watch` answers them itself, so only these show what a
    // deployed function answers).
    ("11-consume-body-not-utf8.json", Status(400)),
    ("12-export-body-not-utf8.json", Status(400)),
    ("13-daily-export-message.json", Exported),
];

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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let expected: Vec<&str> = EXPECTED.iter().map(|(file, _)| *file).collect();
    assert_eq!(
        files, expected,
        "every event file has an expected status here"
    );

    for (file, outcome) in EXPECTED {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        match outcome {
            Status(status) => {
                let request =
                    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
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
        }
    }
}
