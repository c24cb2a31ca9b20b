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

/// File, in replay order, and the status its function answers.
const EXPECTED: &[(&str, u16)] = &[
    ("00-ping.json", 200),
    ("01-create-coupon.json", 201),
    ("02-get-coupon.json", 200),
    ("03-list-coupons.json", 200),
    ("04-validate-coupon.json", 200),
    ("05-consume-coupon.json", 200),
    ("06-update-coupon.json", 200),
    ("07-delete-coupon.json", 204),
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
    admin::create_tenant(&t.app.store, demo.clone(), false)
        .await
        .unwrap();
    admin::issue_token(
        &t.app.store,
        &demo.id,
        IssuedToken::with_secret(EVENTS_TOKEN).unwrap(),
    )
    .await
    .unwrap();

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

    for (file, status) in EXPECTED {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let response = t.call(request).await;
        assert_eq!(response.status, *status, "{file}: {}", response.text());
    }
}
