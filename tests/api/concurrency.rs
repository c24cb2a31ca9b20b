//! Consume is one conditional transaction: concurrent requests never take
//! more uses than a coupon has, and every use taken has exactly one log row.

use std::collections::BTreeSet;

use chrono::DateTime;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumes_never_oversell() {
    let t = TestApp::new().await;
    let code = t.create_coupon(json!({"availability_count": 50})).await;

    let requests =
        (0..300).map(|_| t.send(post(&format!("/coupon/consume?code={code}")).token(&t.token_a)));
    let responses = join_all(requests).await;

    let successes: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<_> = responses.iter().filter(|r| r.status == 409).collect();
    assert_eq!(successes.len(), 50, "exactly the coupon's uses succeed");
    assert_eq!(refused.len(), 250, "every other request is refused");
    for response in &refused {
        response.assert_problem(409, "exhausted");
    }

    let ids: BTreeSet<String> = successes
        .iter()
        .map(|r| r.string("redemption_id"))
        .collect();
    assert_eq!(ids.len(), 50, "each success has its own redemption");

    let days: BTreeSet<_> = successes
        .iter()
        .map(|r| {
            DateTime::parse_from_rfc3339(r.json()["consumed_at"].as_str().unwrap())
                .unwrap()
                .to_utc()
        })
        .map(|at| at.date_naive())
        .collect();
    let mut rows = Vec::new();
    for day in days {
        rows.extend(
            t.redemption_rows(day.and_hms_opt(12, 0, 0).unwrap().and_utc())
                .await,
        );
    }
    let logged: BTreeSet<String> = rows
        .iter()
        .map(|row| row["redemption_id"].as_s().unwrap().clone())
        .collect();
    assert_eq!(rows.len(), 50, "exactly one log row per use");
    assert_eq!(logged, ids);

    let details = t
        .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
        .await
        .json();
    assert_eq!(details["availability_count"], 0);
    assert_eq!(details["redeemed_count"], 50);
}
