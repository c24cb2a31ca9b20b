//! A campaign's jobs: an import of codes from another system (checked
//! before anything is written, existing codes reported and never
//! overwritten, exact after a crash) and the deletion of all its codes.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use common::campaign::CampaignId;
use common::code::CouponCode;
use common::coupon::Coupon;
use common::store::{JobWorkerStore, SlotWrite, schema};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::jobs::{job, listed};

async fn create_campaign(t: &TestApp, fields: Value) -> String {
    t.send(post("/campaigns").token(&t.token_a).json(fields))
        .await
        .expect(201)
        .string("campaign_id")
}

async fn coupon_count(t: &TestApp, id: &str) -> u64 {
    let campaign = t
        .send(get(&format!("/campaigns/{id}")).token(&t.token_a))
        .await;
    campaign.expect(200).json()["coupon_count"]
        .as_u64()
        .unwrap()
}

/// Sends an import; answers its job id after checking the 202.
async fn import(t: &TestApp, id: &str, request: RequestBuilder) -> String {
    let accepted = t.send(request).await;
    accepted.expect(202);
    let job_id = accepted.string("job_id");
    assert_eq!(
        accepted.header("location"),
        Some(format!("/coupon/jobs/{job_id}").as_str())
    );
    let view = accepted.json();
    assert_eq!(
        (&view["kind"], &view["status"], &view["campaign_id"]),
        (&json!("import"), &json!("pending"), &json!(id)),
        "{view}"
    );
    job_id
}

fn csv(t: &TestApp, id: &str, body: &str) -> RequestBuilder {
    post(&format!("/campaigns/{id}/import"))
        .token(&t.token_a)
        .raw("text/csv", body)
}

fn details(t: &TestApp, code: &str) -> RequestBuilder {
    get(&format!("/coupon?code={code}")).token(&t.token_a)
}

#[tokio::test]
async fn an_import_writes_its_codes_into_the_campaign_and_reports_those_that_exist() {
    let t = TestApp::new().await;
    let id = create_campaign(
        &t,
        json!({"name": "Migrated", "discount_percent": 15, "product_ids": ["shoes"]}),
    )
    .await;
    // A coupon of the tenant's own has one of the listed codes already.
    t.create_coupon(json!({"code": "OLD-0007", "product_id": "someone-else"}))
        .await;
    let mut body = String::from("code,availability_count\n");
    for i in 0..2_500 {
        body.push_str(&format!("old-{i:04}{}\n", if i == 42 { ",3" } else { "" }));
    }
    let job_id = import(&t, &id, csv(&t, &id, &body)).await;
    // Counted into the campaign as soon as accepted, so it cannot go.
    assert_eq!(coupon_count(&t, &id).await, 2_500);
    t.send(delete(&format!("/campaigns/{id}")).token(&t.token_a))
        .await
        .assert_problem(409, "campaign_not_empty");

    t.run_worker().await;
    let done = job(&t, &job_id).await;
    assert_eq!(
        (
            &done["status"],
            &done["quantity"],
            &done["created"],
            &done["skipped"]
        ),
        (&json!("succeeded"), &json!(2_500), &json!(2_499), &json!(1)),
        "{done}"
    );
    assert_eq!(listed(&t, &job_id, "skipped").await, ["OLD-0007"]);
    let written: BTreeSet<String> = listed(&t, &job_id, "codes").await.into_iter().collect();
    let expected: BTreeSet<String> = (0..2_500)
        .filter(|i| *i != 7)
        .map(|i| format!("OLD-{i:04}"))
        .collect();
    assert_eq!(written, expected);
    // The skipped code is counted out again, in the batch's own write.
    assert_eq!(coupon_count(&t, &id).await, 2_499);
    let other = t.send(details(&t, "OLD-0007")).await.json();
    assert_eq!(
        (&other["product_id"], &other["campaign_id"]),
        (&json!("someone-else"), &Value::Null),
        "never overwritten: {other}"
    );

    // An imported code takes the campaign's terms and its own uses.
    let imported = t.send(details(&t, "OLD-0042")).await.json();
    assert_eq!(
        (
            &imported["campaign_id"],
            &imported["availability_count"],
            &imported["discount"]["value"]
        ),
        (&json!(id), &json!(3), &json!("15.00")),
        "{imported}"
    );
    t.send(post("/coupon/consume?code=OLD-0042&product_id=shoes").token(&t.token_a))
        .await
        .expect(200);
    t.send(post("/coupon/consume?code=OLD-0043&product_id=hats").token(&t.token_a))
        .await
        .assert_problem(409, "product_mismatch");

    // The same list again (as JSON): every code exists now, none is
    // written twice or overwritten, and the count comes back to where it was.
    let again: Vec<Value> = (0..2_500).map(|i| json!(format!("OLD-{i:04}"))).collect();
    let job_id = import(
        &t,
        &id,
        post(&format!("/campaigns/{id}/import"))
            .token(&t.token_a)
            .json(json!({ "codes": again })),
    )
    .await;
    t.run_worker().await;
    let done = job(&t, &job_id).await;
    assert_eq!(
        (&done["created"], &done["skipped"]),
        (&json!(0), &json!(2_500))
    );
    assert_eq!(coupon_count(&t, &id).await, 2_499);
    let used = t.send(details(&t, "OLD-0042")).await.json();
    assert_eq!(
        (&used["availability_count"], &used["redeemed_count"]),
        (&json!(2), &json!(1)),
        "the second import left the used code as it was: {used}"
    );

    // Switching the campaign off switches the imported codes off.
    t.send(
        put(&format!("/campaigns/{id}"))
            .token(&t.token_a)
            .json(json!({"active": false})),
    )
    .await
    .expect(200);
    t.send(post("/coupon/consume?code=OLD-0100&product_id=shoes").token(&t.token_a))
        .await
        .assert_problem(409, "inactive");
}

#[tokio::test]
async fn an_import_is_checked_whole_before_anything_is_written() {
    let t = TestApp::new().await;
    let id = create_campaign(&t, json!({"name": "Checked"})).await;
    let cases: Vec<(RequestBuilder, u16, &str, &str)> = vec![
        (
            csv(&t, &id, "A1\nB 2\n"),
            422,
            "invalid_request",
            "line 2: code may contain only",
        ),
        (
            csv(&t, &id, "A1\nC3\na1\n"),
            422,
            "invalid_request",
            "line 3: code A1 is listed twice (first at line 1)",
        ),
        (
            csv(&t, &id, "A1,0\n"),
            422,
            "invalid_request",
            "line 1: availability_count must be 1 to",
        ),
        (
            csv(&t, &id, ""),
            422,
            "invalid_request",
            "an import lists 1 to 100000 codes",
        ),
        (
            csv(
                &t,
                &id,
                &(0..100_001).map(|i| format!("C{i}\n")).collect::<String>(),
            ),
            422,
            "invalid_request",
            "an import lists 1 to 100000 codes; this one lists 100001",
        ),
        (
            post(&format!("/campaigns/{id}/import"))
                .token(&t.token_a)
                .json(json!(["A1", {"code": "B2", "uses": 3}])),
            422,
            "invalid_request",
            "codes[1]: unknown field \"uses\"",
        ),
        (
            post(&format!("/campaigns/{id}/import"))
                .token(&t.token_a)
                .form(&[("codes", "A1")]),
            400,
            "invalid_request",
            "unsupported content type",
        ),
        (
            csv(&t, &id, &"X".repeat(4 * 1024 * 1024 + 1)),
            413,
            "payload_too_large",
            "request body larger than",
        ),
        (
            csv(&t, "cmp_0192f0c0a0b07c3d8e9f000000000000", "A1\n"),
            404,
            "not_found",
            "no campaign",
        ),
    ];
    for (request, status, code, detail) in cases {
        let refused = t.send(request).await;
        refused.assert_problem(status, code);
        let said = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(said.starts_with(detail), "{said}");
    }
    assert_eq!(coupon_count(&t, &id).await, 0);
    t.send(details(&t, "A1"))
        .await
        .assert_problem(404, "not_found");
    // Nothing is left to work on.
    let swept = t.run_worker().await;
    assert_eq!(swept, json!([]), "no job was accepted");
}

/// A run that stops after its first batch, a batch half-written by a run
/// that crashed, and a code taken in between: the import still ends with
/// every listed code written once or reported once (its own codes from the
/// crashed run are recognised, not reported).
#[tokio::test]
async fn an_import_resumed_after_a_crash_writes_or_reports_each_code_once() {
    let t = TestApp::new().await;
    let id = create_campaign(&t, json!({"name": "Resumed"})).await;
    let body: String = (0..2_200).map(|i| format!("R{i:05}\n")).collect();
    let job_id = import(&t, &id, csv(&t, &id, &body)).await;
    let store = &t.app().store;
    // A turn that ends at once: one batch, then the run lets go.
    let far = Utc::now() + chrono::Duration::hours(1);
    let outcome = coupon_jobs::run_job(
        store,
        &t.tenant_a,
        &job_id,
        coupon_jobs::LEASE,
        far,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(outcome, "turn over");
    assert_eq!(job(&t, &job_id).await["created"], 1_000);
    // A run that crashed half-way through the second batch left its first
    // ten codes written (marked with the job and slot) but not recorded.
    let campaign = CampaignId::parse(&id).unwrap();
    for slot in 1_000..1_010_u64 {
        let code = CouponCode::parse(&format!("R{slot:05}")).unwrap();
        let coupon = Coupon::campaign_code(code, campaign.clone(), 1, Utc::now());
        let write = store
            .put_job_coupon(&t.tenant_a, &job_id, &coupon, slot, None)
            .await
            .unwrap();
        assert_eq!(write, SlotWrite::Written);
    }
    // Someone else takes a code of the second batch before it is written.
    t.create_coupon(json!({"code": "R01500"})).await;
    let outcome = coupon_jobs::run_job(store, &t.tenant_a, &job_id, coupon_jobs::LEASE, far, far)
        .await
        .unwrap();
    assert_eq!(outcome, "succeeded");
    let done = job(&t, &job_id).await;
    assert_eq!(
        (&done["created"], &done["skipped"]),
        (&json!(2_199), &json!(1))
    );
    assert_eq!(listed(&t, &job_id, "skipped").await, ["R01500"]);
    assert_eq!(listed(&t, &job_id, "codes").await.len(), 2_199);
    assert_eq!(coupon_count(&t, &id).await, 2_199);
}

#[tokio::test]
async fn an_import_whose_input_is_gone_fails_and_counts_out_what_it_did_not_write() {
    let t = TestApp::new().await;
    let id = create_campaign(&t, json!({"name": "Lost"})).await;
    let body: String = (0..1_500).map(|i| format!("L{i:05}\n")).collect();
    let job_id = import(&t, &id, csv(&t, &id, &body)).await;
    // The second batch's input is gone (as TTL would take it after 7 days).
    t.client
        .delete_item()
        .table_name(&t.table)
        .key(
            "PK",
            AttributeValue::S(schema::job_pk(&t.tenant_a, &job_id)),
        )
        .key("SK", AttributeValue::S(schema::job_input_sk(1)))
        .send()
        .await
        .unwrap();
    t.run_worker().await;
    let failed = job(&t, &job_id).await;
    assert_eq!(
        (&failed["status"], &failed["created"]),
        (&json!("failed"), &json!(1_000)),
        "{failed}"
    );
    assert!(failed["error"].as_str().unwrap().contains("gone"));
    assert_eq!(coupon_count(&t, &id).await, 1_000);
}

#[tokio::test]
async fn a_job_deletes_every_code_of_a_campaign_and_then_the_campaign_can_go() {
    let t = TestApp::new().await;
    let id = create_campaign(
        &t,
        json!({"name": "Ending", "discount_fixed": 5, "currency": "EUR"}),
    )
    .await;
    let mut codes = BTreeSet::new();
    for quantity in [1_000, 300] {
        let made = t
            .send(post("/coupon").token(&t.token_a).json(json!({
                "campaign_id": id, "quantity": quantity,
            })))
            .await;
        made.expect(201);
        codes.extend(
            made.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned()),
        );
    }
    let first = codes.iter().next().unwrap().clone();
    let used = t
        .send(post(&format!("/coupon/consume?code={first}")).token(&t.token_a))
        .await;
    used.expect(200);
    let redemption = used.string("redemption_id");

    let accepted = t
        .send(delete(&format!("/campaigns/{id}/codes")).token(&t.token_a))
        .await;
    accepted.expect(202);
    let job_id = accepted.string("job_id");
    let view = accepted.json();
    assert_eq!(
        (&view["kind"], &view["quantity"], &view["deleted"]),
        (&json!("delete_campaign_codes"), &json!(1_300), &json!(0)),
        "{view}"
    );
    t.run_worker().await;
    let done = job(&t, &job_id).await;
    assert_eq!(
        (&done["status"], &done["deleted"]),
        (&json!("succeeded"), &json!(1_300)),
        "{done}"
    );
    let deleted: BTreeSet<String> = listed(&t, &job_id, "codes").await.into_iter().collect();
    assert_eq!(deleted, codes);
    assert_eq!(coupon_count(&t, &id).await, 0);
    let left = t
        .send(get(&format!("/coupon?campaign_id={id}")).token(&t.token_a))
        .await;
    assert_eq!(left.expect(200).json()["data"], json!([]));
    t.send(details(&t, &first))
        .await
        .assert_problem(404, "not_found");
    t.send(delete(&format!("/campaigns/{id}")).token(&t.token_a))
        .await
        .expect(204);
    // The log keeps the used code's redemption, with its campaign.
    let rows = t.redemption_rows(Utc::now()).await;
    let row = rows
        .iter()
        .find(|row| row["redemption_id"].as_s().unwrap() == &redemption)
        .expect("the redemption stays in the log");
    assert_eq!(row["campaign_id"].as_s().unwrap(), &id);
    // A delete of an unknown campaign's codes is a 404, and accepts no job.
    t.send(delete(&format!("/campaigns/{id}/codes")).token(&t.token_a))
        .await
        .assert_problem(404, "not_found");

    // The deleted codes come back in another campaign by an import: none
    // exists any more, so none is skipped.
    let next = create_campaign(&t, json!({"name": "Next"})).await;
    let back: Vec<&String> = codes.iter().take(3).collect();
    let job_id = import(
        &t,
        &next,
        post(&format!("/campaigns/{next}/import"))
            .token(&t.token_a)
            .json(json!(back)),
    )
    .await;
    t.run_worker().await;
    let done = job(&t, &job_id).await;
    assert_eq!((&done["created"], &done["skipped"]), (&json!(3), &json!(0)));
    // The old redemption of the first code rolls back against its deleted
    // campaign: a reversal, and the new coupon of that code keeps its use.
    let reversed = t
        .send(post(&format!("/coupon/consume/{redemption}/rollback")).token(&t.token_a))
        .await;
    reversed.expect(200);
    assert_eq!(
        reversed.json()["use_returned"],
        false,
        "{}",
        reversed.text()
    );
    let reborn = t.send(details(&t, &first)).await.json();
    assert_eq!(
        (
            &reborn["campaign_id"],
            &reborn["availability_count"],
            &reborn["redeemed_count"]
        ),
        (&json!(next), &json!(1), &json!(0)),
        "{reborn}"
    );
    assert_eq!(coupon_count(&t, &next).await, 3);
}
