//! Bulk generation: a create above 1,000 codes becomes a job that the worker
//! function writes in batches, resumable after a crash to the exact count.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use chrono::Utc;
use common::job::{Job, JobWork};
use common::store::{JobStore, JobWorkerStore, schema};
use common::tenant::TenantId;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

/// A run that nobody interrupts.
const NO_DEADLINE: chrono::Duration = chrono::Duration::hours(1);

pub(crate) async fn job(t: &TestApp, id: &str) -> Value {
    let response = t
        .send(get(&format!("/coupon/jobs/{id}")).token(&t.token_a))
        .await;
    response.expect(200);
    response.json()
}

/// Every code the job lists, page by page.
async fn listed_codes(t: &TestApp, id: &str) -> Vec<String> {
    listed(t, id, "codes").await
}

/// Every code of the job's `listing` (`codes`, `skipped`), page by page.
pub(crate) async fn listed(t: &TestApp, id: &str, listing: &str) -> Vec<String> {
    let mut codes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/coupon/jobs/{id}/{listing}?cursor={c}"),
            None => format!("/coupon/jobs/{id}/{listing}"),
        };
        let page = t.send(get(&path).token(&t.token_a)).await;
        page.expect(200);
        let page = page.json();
        codes.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return codes,
        }
    }
}

/// Coupons of tenant A in the table, counted through the tenant's index.
async fn coupons_in_table(t: &TestApp) -> u64 {
    let mut count = 0;
    let mut start = None;
    loop {
        let page = t
            .client
            .query()
            .table_name(&t.table)
            .index_name(schema::GSI1)
            .key_condition_expression("GSI1PK = :pk")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(schema::coupons_gsi1pk(&t.tenant_a)),
            )
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        count += page.count as u64;
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return count,
        }
    }
}

/// A Lambda context with 15 minutes left.
fn invocation() -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.deadline = (Utc::now() + chrono::Duration::minutes(15)).timestamp_millis() as u64;
    context
}

/// Items in the whole table. moto counts them exactly on every call (real
/// DynamoDB refreshes this figure about every six hours); a GSI query over
/// 100,000 items is too slow in moto, which sorts the table for each page.
async fn items_in_table(t: &TestApp) -> u64 {
    let table = t
        .client
        .describe_table()
        .table_name(&t.table)
        .send()
        .await
        .unwrap();
    table.table.unwrap().item_count.unwrap() as u64
}

fn tenant_a(t: &TestApp) -> TenantId {
    t.tenant_a.clone()
}

#[tokio::test]
async fn a_job_writes_its_codes_in_batches_and_lists_them() {
    let t = TestApp::new().await;
    let id = t
        .start_job(
            json!({"quantity": 2_500, "prefix": "vip-", "charset": "numbers", "code_length": 10,
               "availability_count": 2, "discount_percent": "15"}),
        )
        .await;
    // Another tenant cannot see it; nothing is listed before the worker runs.
    t.send(get(&format!("/coupon/jobs/{id}")).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
    assert!(listed_codes(&t, &id).await.is_empty());
    t.send(get(&format!("/coupon/jobs/{id}/codes?cursor=x")).token(&t.token_a))
        .await
        .assert_problem(422, "invalid_request");

    // The scheduled sweep finds the job and finishes it.
    let event = lambda_runtime::LambdaEvent::new(
        json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
        invocation(),
    );
    let swept = coupon_jobs::handle(&t.app().store, event).await.unwrap();
    assert_eq!(swept[0]["outcome"], "succeeded", "{swept}");

    let done = job(&t, &id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["created"], 2_500);
    let codes = listed_codes(&t, &id).await;
    assert_eq!(codes.len(), 2_500);
    assert_eq!(codes.iter().collect::<BTreeSet<_>>().len(), 2_500);
    for code in &codes {
        let digits = code.strip_prefix("VIP-").unwrap();
        assert!(
            digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()),
            "{code}"
        );
    }
    let coupon = t
        .send(get(&format!("/coupon?code={}", codes[1_234])).token(&t.token_a))
        .await
        .json();
    assert_eq!(coupon["availability_count"], 2);
    assert_eq!(coupon["discount"]["value"], "15.00");
    assert_eq!(coupons_in_table(&t).await, 2_500);
    // Swept again, a finished job is left alone.
    let event = lambda_runtime::LambdaEvent::new(json!({}), invocation());
    let swept = coupon_jobs::handle(&t.app().store, event).await.unwrap();
    assert_eq!(swept, json!([]));
}

#[tokio::test]
async fn a_code_another_coupon_has_is_never_overwritten() {
    let t = TestApp::new().await;
    let id = t
        .start_job(json!({"quantity": 1_001, "pattern": "####-####"}))
        .await;
    // Someone takes the job's first draw for slot 7 before the worker runs.
    let stored: Job = t
        .app()
        .store
        .get_job(&tenant_a(&t), &id)
        .await
        .unwrap()
        .unwrap();
    let JobWork::Generate(stored) = stored.work else {
        panic!("a bulk create is a generation job");
    };
    let format = stored.format.format().unwrap();
    let taken = stored.slot_code(&format, 7, 0);
    t.create_coupon(json!({"code": taken.as_str(), "product_id": "someone-else"}))
        .await;

    let outcome = coupon_jobs::run_job(
        &t.app().store,
        &tenant_a(&t),
        &id,
        coupon_jobs::LEASE,
        Utc::now() + NO_DEADLINE,
        Utc::now() + NO_DEADLINE,
    )
    .await
    .unwrap();
    assert_eq!(outcome, "succeeded");
    let codes = listed_codes(&t, &id).await;
    assert_eq!(codes.len(), 1_001);
    assert!(!codes.contains(&taken.as_str().to_owned()));
    assert_eq!(codes[7], stored.slot_code(&format, 7, 1).as_str());
    let other = t
        .send(get(&format!("/coupon?code={taken}")).token(&t.token_a))
        .await
        .json();
    assert_eq!(
        other["product_id"], "someone-else",
        "the other coupon is untouched"
    );
    assert_eq!(coupons_in_table(&t).await, 1_002);
}

#[tokio::test]
async fn a_run_near_its_deadline_pauses_and_the_next_resumes_at_once() {
    let t = TestApp::new().await;
    let id = t.start_job(json!({"quantity": 1_500})).await;
    let run = |deadline| {
        coupon_jobs::run_job(
            &t.app().store,
            &t.tenant_a,
            &id,
            coupon_jobs::LEASE,
            deadline,
            deadline,
        )
    };
    assert_eq!(run(Utc::now()).await.unwrap(), "paused");
    assert_eq!(job(&t, &id).await["created"], 0);
    // The paused run gave its lease up: no two-minute wait.
    assert_eq!(run(Utc::now() + NO_DEADLINE).await.unwrap(), "succeeded");
    assert_eq!(job(&t, &id).await["created"], 1_500);
}

#[tokio::test]
async fn bulk_limits_and_keyspace_are_checked_before_accepting() {
    let t = TestApp::new().await;
    t.send(
        post("/coupon")
            .token(&t.token_a)
            .json(json!({"quantity": 1_000_001, "code_length": 16})),
    )
    .await
    .assert_problem(422, "invalid_request");
    let infeasible = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"quantity": 200_000, "pattern": "X-####"})),
        )
        .await;
    infeasible.assert_problem(422, "invalid_request");
    t.send(
        post("/coupon")
            .token(&t.token_a)
            .json(json!({"quantity": 5_000, "pattern": "##-##", "code_length": 8})),
    )
    .await
    .assert_problem(422, "invalid_request");
    t.send(
        post("/coupon")
            .token(&t.token_a)
            .json(json!({"code": "MINE", "prefix": "X"})),
    )
    .await
    .assert_problem(422, "invalid_request");
}

/// The figure: 100,000 patterned codes, the worker killed part-way
/// and resumed, ending with exactly 100,000 distinct coupons.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_killed_half_way_resumes_to_exactly_its_quantity() {
    const QUANTITY: u64 = 100_000;
    // Rate-limit buckets live elsewhere, so the table's item count moves
    // only with what the job writes.
    let t = TestApp::with(Options {
        buckets_table: Some(format!("buckets-{}", uuid::Uuid::new_v4())),
        ..Options::default()
    })
    .await;
    let id = t
        .start_job(
            json!({"quantity": QUANTITY, "pattern": "XMAS-####-####", "availability_count": 1}),
        )
        .await;

    // Everything else in the table stays as it is from here: the job adds
    // its coupons and one listing item per batch.
    let before = items_in_table(&t).await;
    let batches = QUANTITY / common::job::JOB_BATCH;

    // A short lease, so the resumed run need not wait two minutes.
    let lease = Duration::from_secs(1);
    let store = t.app().store.clone();
    let tenant = tenant_a(&t);
    let job_id = id.clone();
    let first = tokio::spawn(async move {
        let no_deadline = Utc::now() + NO_DEADLINE;
        coupon_jobs::run_job(&store, &tenant, &job_id, lease, no_deadline, no_deadline).await
    });
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if job(&t, &id).await["created"].as_u64().unwrap() >= 30_000 {
            break;
        }
    }
    // Killed mid-batch: some of the batch in flight is written, none recorded.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    let paused = job(&t, &id).await;
    assert_eq!(paused["status"], "running");
    let recorded = paused["created"].as_u64().unwrap();
    let listings = recorded / common::job::JOB_BATCH;
    let written = items_in_table(&t).await - before - listings;
    assert!(
        written > recorded,
        "the batch in flight was partly written: {written} coupons, {recorded} recorded"
    );

    tokio::time::sleep(lease).await;
    let outcome = coupon_jobs::run_job(
        &t.app().store,
        &tenant_a(&t),
        &id,
        lease,
        Utc::now() + NO_DEADLINE,
        Utc::now() + NO_DEADLINE,
    )
    .await
    .unwrap();
    assert_eq!(outcome, "succeeded");

    let done = job(&t, &id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["created"], QUANTITY);
    assert_eq!(
        items_in_table(&t).await,
        before + QUANTITY + batches,
        "exactly {QUANTITY} coupons, no more"
    );
    let codes = listed_codes(&t, &id).await;
    assert_eq!(codes.len() as u64, QUANTITY);
    assert_eq!(codes.iter().collect::<BTreeSet<_>>().len() as u64, QUANTITY);
    let readable = common::code::ALPHABET;
    for code in &codes {
        let bytes = code.as_bytes();
        assert!(
            code.len() == 14
                && code.starts_with("XMAS-")
                && bytes[9] == b'-'
                && bytes[5..9]
                    .iter()
                    .chain(&bytes[10..])
                    .all(|b| readable.contains(b)),
            "{code}"
        );
    }
    // A listed code is a coupon with the job's terms.
    let coupon = t
        .send(get(&format!("/coupon?code={}", codes[77_777])).token(&t.token_a))
        .await;
    coupon.expect(200);
}

#[tokio::test]
async fn a_tenant_has_at_most_three_unfinished_jobs() {
    let t = TestApp::new().await;
    let bulk = json!({"quantity": 1_001, "code_length": 12});
    for _ in 0..3 {
        t.start_job(bulk.clone()).await;
    }
    t.send(post("/coupon").token(&t.token_a).json(bulk.clone()))
        .await
        .assert_problem(409, "too_many_jobs");
    // Concurrent creates never pass the limit either.
    let racing =
        join_all((0..5).map(|_| t.send(post("/coupon").token(&t.token_b).json(bulk.clone()))))
            .await;
    let accepted = racing.iter().filter(|r| r.status == 202).count();
    assert_eq!(accepted, 3);
    for refused in racing.iter().filter(|r| r.status != 202) {
        refused.assert_problem(409, "too_many_jobs");
    }
    // Finished jobs make room again.
    t.run_worker().await;
    t.start_job(bulk).await;
}

#[tokio::test]
async fn tenants_take_turns_at_the_worker() {
    let t = TestApp::new().await;
    // Two batches each: tenant A queued three jobs before tenant B's one.
    let bulk = json!({"quantity": 1_500, "code_length": 12});
    let mut a_jobs = Vec::new();
    for _ in 0..3 {
        a_jobs.push(t.start_job(bulk.clone()).await);
    }
    let b_job = t
        .send(post("/coupon").token(&t.token_b).json(bulk))
        .await
        .expect(202)
        .string("job_id");
    let jobs = t.app().store.active_jobs().await.unwrap();
    // A turn of no time: one batch per job, then the next tenant's.
    let outcomes = coupon_jobs::run_in_turn(
        &t.app().store,
        jobs,
        Duration::ZERO,
        Utc::now() + NO_DEADLINE,
    )
    .await
    .unwrap();
    let finished: Vec<&str> = outcomes
        .iter()
        .map(|o| {
            assert_eq!(o["outcome"], "succeeded", "{o}");
            o["job_id"].as_str().unwrap()
        })
        .collect();
    // Served A, B, A, A (one batch each), then the same again: B's job
    // ends second, not last.
    assert_eq!(
        finished,
        [
            a_jobs[0].as_str(),
            b_job.as_str(),
            a_jobs[1].as_str(),
            a_jobs[2].as_str()
        ]
    );
}
