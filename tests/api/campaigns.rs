//! Campaigns: one offer and one budget for many codes. The routes, codes
//! that take the campaign's terms, one write that switches every code off
//! or changes its terms, and budgets that hold exactly under concurrency,
//! through rollbacks and reservations.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

/// A campaign of tenant A; its view.
async fn create_campaign(t: &TestApp, fields: Value) -> Value {
    let created = t
        .send(post("/campaigns").token(&t.token_a).json(fields))
        .await;
    created.expect(201);
    created.json()
}

async fn campaign(t: &TestApp, id: &str) -> Value {
    let response = t
        .send(get(&format!("/campaigns/{id}")).token(&t.token_a))
        .await;
    response.expect(200);
    response.json()
}

async fn change(t: &TestApp, id: &str, fields: Value) -> crate::helpers::TestResponse {
    t.send(
        put(&format!("/campaigns/{id}"))
            .token(&t.token_a)
            .json(fields),
    )
    .await
}

/// `n` codes of the campaign with `uses` uses each; their codes.
async fn codes(t: &TestApp, id: &str, n: u64, uses: u64) -> Vec<String> {
    let created = t
        .send(post("/coupon").token(&t.token_a).json(json!({
            "campaign_id": id, "quantity": n, "availability_count": uses,
        })))
        .await;
    created.expect(201);
    created.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

fn consume(t: &TestApp, code: &str, extra: &str) -> RequestBuilder {
    post(&format!("/coupon/consume?code={code}{extra}")).token(&t.token_a)
}

/// The log rows of tenant A on the days the successes name.
async fn logged(t: &TestApp, successes: &[&crate::helpers::TestResponse]) -> BTreeSet<String> {
    let days: BTreeSet<NaiveDate> = successes
        .iter()
        .map(|r| {
            DateTime::parse_from_rfc3339(r.json()["consumed_at"].as_str().unwrap())
                .unwrap()
                .to_utc()
                .date_naive()
        })
        .collect();
    let mut ids = BTreeSet::new();
    for day in days {
        for row in t
            .redemption_rows(day.and_hms_opt(12, 0, 0).unwrap().and_utc())
            .await
        {
            ids.insert(row["redemption_id"].as_s().unwrap().clone());
        }
    }
    ids
}

#[tokio::test]
async fn a_campaign_is_created_read_listed_changed_and_deleted() {
    let t = TestApp::new().await;
    let made = create_campaign(
        &t,
        json!({"name": "Black Friday", "discount_percent": "20", "currency": "eur",
               "max_discount_amount": "15", "product_ids": ["shoe", "hat"],
               "budget_uses": 1000, "budget_amount": "5000.00",
               "expiry_date": "2031-01-15"}),
    )
    .await;
    let id = made["campaign_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cmp_"), "{made}");
    assert_eq!(made["object"], "campaign");
    assert_eq!(
        made["discount"],
        json!({"type": "percent", "value": "20.00"})
    );
    assert_eq!(made["currency"], "EUR");
    assert_eq!(made["product_ids"], json!(["shoe", "hat"]));
    assert_eq!(made["budget_uses_left"], 1000);
    assert_eq!(made["budget_amount_left"], "5000.00");
    assert_eq!(made["redeemed_count"], 0);
    assert_eq!(made["discount_total"], "0.00");
    assert_eq!(made["active"], true);
    assert_eq!(campaign(&t, &id).await, made);

    // The same fields as a form, and as multipart.
    let form = t
        .send(post("/campaigns").token(&t.token_a).form(&[
            ("name", "Form"),
            ("product_ids", "a,b"),
            ("budget_uses", "5"),
        ]))
        .await;
    assert_eq!(form.expect(201).json()["product_ids"], json!(["a", "b"]));
    let multipart = t
        .send(
            post("/campaigns")
                .token(&t.token_a)
                .multipart(&[("name", "Multipart"), ("discount_fixed", "5")]),
        )
        .await;
    multipart.expect(201);

    // A page of two, newest first, then the rest.
    let first = t.send(get("/campaigns?limit=2").token(&t.token_a)).await;
    let first = first.expect(200).json();
    assert_eq!(first["object"], "list");
    assert_eq!(first["has_more"], true);
    assert_eq!(first["data"][0]["name"], "Multipart");
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = t
        .send(get(&format!("/campaigns?limit=2&cursor={cursor}")).token(&t.token_a))
        .await;
    let rest = rest.expect(200).json();
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["campaign_id"], id.as_str());

    let changed = change(
        &t,
        &id,
        json!({"name": "Cyber Monday", "product_ids": null, "active": false}),
    )
    .await;
    let changed = changed.expect(200).json();
    assert_eq!(changed["name"], "Cyber Monday");
    assert_eq!(changed["product_ids"], json!([]));
    assert_eq!(changed["active"], false);
    assert_eq!(
        changed["discount"], made["discount"],
        "untouched terms stay"
    );

    // Another tenant's campaign is not there for tenant B.
    for request in [
        get(&format!("/campaigns/{id}")),
        put(&format!("/campaigns/{id}")).json(json!({"name": "x"})),
        delete(&format!("/campaigns/{id}")),
    ] {
        t.send(request.token(&t.token_b))
            .await
            .assert_problem(404, "not_found");
    }
    let b_list = t.send(get("/campaigns").token(&t.token_b)).await;
    assert_eq!(b_list.expect(200).json()["data"], json!([]));

    let deleted = t
        .send(delete(&format!("/campaigns/{id}")).token(&t.token_a))
        .await;
    deleted.expect(204);
    t.send(get(&format!("/campaigns/{id}")).token(&t.token_a))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn bad_campaign_fields_are_refused_with_the_field_named() {
    let t = TestApp::new().await;
    let too_many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
    let cases = [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "n", "budget_amount": "10"}), "currency"),
        (json!({"name": "n", "budget_uses": 0}), "budget_uses"),
        (
            json!({"name": "n", "budget_amount": "-1", "currency": "EUR"}),
            "budget_amount",
        ),
        (json!({"name": "n", "product_ids": too_many}), "product_ids"),
        (
            json!({"name": "n", "product_ids": ["a", "a"]}),
            "product_ids",
        ),
        (
            json!({"name": "n", "product_id": "a", "product_ids": ["b"]}),
            "product_id",
        ),
        (
            json!({"name": "n", "availability_count": 5}),
            "availability_count",
        ),
        (
            json!({"name": "n", "max_discount_amount": "0"}),
            "max_discount_amount",
        ),
        (json!({"name": "n", "colour": "red"}), "colour"),
    ];
    for (fields, named) in cases {
        let response = t
            .send(post("/campaigns").token(&t.token_a).json(fields.clone()))
            .await;
        response.assert_problem(422, "invalid_request");
        assert!(
            response.json()["detail"].as_str().unwrap().contains(named),
            "{fields}: {}",
            response.text()
        );
    }
    for path in [
        "/campaigns/nope",
        "/campaigns/cmp_00000000000000000000000000000000",
    ] {
        t.send(get(path).token(&t.token_a))
            .await
            .assert_problem(404, "not_found");
    }
    t.send(get("/campaigns?cursor=nope").token(&t.token_a))
        .await
        .assert_problem(422, "invalid_request");
}

#[tokio::test]
async fn campaign_codes_take_the_campaign_terms() {
    let t = TestApp::new().await;
    let made = create_campaign(
        &t,
        json!({"name": "Shoes", "discount_percent": 10, "currency": "EUR",
               "max_discount_amount": "5.00", "product_ids": ["shoe", "boot"]}),
    )
    .await;
    let id = made["campaign_id"].as_str().unwrap();
    let codes = codes(&t, id, 3, 2).await;
    let custom = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"campaign_id": id, "code": "SHOES-VIP"})),
        )
        .await;
    let custom = custom.expect(201).json();
    assert_eq!(custom["campaign_id"], id);
    assert_eq!(
        custom["discount"],
        json!({"type": "percent", "value": "10.00"})
    );
    assert_eq!(custom["max_discount_amount"], "5.00");
    assert_eq!(campaign(&t, id).await["coupon_count"], 4);

    // Terms beside campaign_id, and a campaign that does not exist.
    let beside = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"campaign_id": id, "discount_fixed": "3"})),
        )
        .await;
    beside.assert_problem(422, "invalid_request");
    let unknown = t
        .send(
            post("/coupon")
                .token(&t.token_b)
                .json(json!({"campaign_id": id})),
        )
        .await;
    unknown.assert_problem(404, "not_found");
    let listed = t
        .send(get(&format!("/coupon?campaign_id={id}&limit=2")).token(&t.token_a))
        .await;
    let listed = listed.expect(200).json();
    assert_eq!(listed["has_more"], true);
    let cursor = listed["next_cursor"].as_str().unwrap();
    let rest = t
        .send(get(&format!("/coupon?campaign_id={id}&limit=2&cursor={cursor}")).token(&t.token_a))
        .await;
    let mut all: Vec<String> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.json()["data"].as_array().unwrap())
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    all.sort();
    let mut expected: Vec<String> = codes
        .iter()
        .cloned()
        .chain(["SHOES-VIP".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(all, expected);
    t.send(get(&format!("/coupon?campaign_id={id}")).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");

    // The campaign's product list, its cap on a percentage, its currency.
    let code = &codes[0];
    let refused = t
        .send(get(&format!("/coupon/consume?code={code}&product_id=sock")).token(&t.token_a))
        .await;
    assert_eq!(refused.expect(200).json()["reason"], "product_mismatch");
    let consumed = t
        .send(consume(
            &t,
            code,
            "&product_id=boot&order_amount=80&currency=EUR",
        ))
        .await;
    let consumed = consumed.expect(200).json();
    assert_eq!(
        consumed["pricing"]["discount_amount"], "5.00",
        "10% of 80 capped at 5"
    );
    assert_eq!(consumed["campaign_id"], id);
    assert_eq!(consumed["availability_count"], 1);
    let small = t
        .send(consume(
            &t,
            code,
            "&product_id=shoe&order_amount=20&currency=EUR",
        ))
        .await;
    assert_eq!(
        small.expect(200).json()["pricing"]["discount_amount"],
        "2.00"
    );
    t.send(consume(&t, code, ""))
        .await
        .assert_problem(409, "exhausted");
    let spent = campaign(&t, id).await;
    assert_eq!(spent["redeemed_count"], 2);
    assert_eq!(spent["discount_total"], "7.00");

    // A code's own uses and switch can change; its terms cannot.
    let own = t
        .send(
            put(&format!("/coupon/{}", codes[1]))
                .token(&t.token_a)
                .json(json!({"availability_count": 7, "active": false})),
        )
        .await;
    let own = own.expect(200).json();
    assert_eq!(
        (own["availability_count"].clone(), own["active"].clone()),
        (json!(7), json!(false))
    );
    assert_eq!(
        own["discount"],
        json!({"type": "percent", "value": "10.00"})
    );
    let terms = t
        .send(
            put(&format!("/coupon/{}", codes[1]))
                .token(&t.token_a)
                .json(json!({"discount_fixed": "1"})),
        )
        .await;
    terms.assert_problem(422, "invalid_request");
    t.send(consume(&t, &codes[1], ""))
        .await
        .assert_problem(409, "inactive");
}

#[tokio::test]
async fn one_write_switches_every_code_off_and_changes_every_code_terms() {
    let t = TestApp::new().await;
    let made = create_campaign(
        &t,
        json!({"name": "Spring", "discount_fixed": "3", "currency": "EUR"}),
    )
    .await;
    let id = made["campaign_id"].as_str().unwrap();
    let codes = codes(&t, id, 20, 5).await;
    // Every code read once, so consume has it cached as it was.
    for code in &codes {
        t.send(consume(&t, code, "&order_amount=10"))
            .await
            .expect(200);
    }
    change(&t, id, json!({"active": false})).await.expect(200);
    for code in &codes {
        t.send(consume(&t, code, "&order_amount=10"))
            .await
            .assert_problem(409, "inactive");
        let checked = t
            .send(get(&format!("/coupon/consume?code={code}")).token(&t.token_a))
            .await;
        assert_eq!(checked.expect(200).json()["reason"], "inactive");
    }
    change(&t, id, json!({"active": true, "discount_fixed": "4"}))
        .await
        .expect(200);
    for code in &codes {
        let consumed = t.send(consume(&t, code, "&order_amount=10")).await;
        assert_eq!(
            consumed.expect(200).json()["pricing"]["discount_amount"],
            "4.00"
        );
    }
    let spent = campaign(&t, id).await;
    assert_eq!(spent["redeemed_count"], 40);
    assert_eq!(spent["discount_total"], "140.00");
}

#[tokio::test]
async fn a_campaign_with_codes_is_not_deleted() {
    let t = TestApp::new().await;
    let made = create_campaign(&t, json!({"name": "Soon gone"})).await;
    let id = made["campaign_id"].as_str().unwrap();
    let codes = codes(&t, id, 2, 1).await;
    let refused = t
        .send(delete(&format!("/campaigns/{id}")).token(&t.token_a))
        .await;
    refused.assert_problem(409, "campaign_not_empty");
    for code in &codes {
        t.send(delete(&format!("/coupon/{code}")).token(&t.token_a))
            .await
            .expect(204);
    }
    assert_eq!(campaign(&t, id).await["coupon_count"], 0);
    t.send(delete(&format!("/campaigns/{id}")).token(&t.token_a))
        .await
        .expect(204);
    // Its codes' redemptions stay in the log; a code made for it now has
    // no campaign to join.
    let orphan = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"campaign_id": id})),
        )
        .await;
    orphan.assert_problem(404, "not_found");
}

/// 10 codes of 100 uses in a campaign that may pay for 50 uses (by count
/// or by money), 300 consumes at once spread over the codes: exactly 50
/// succeed, the rest are refused `budget_exhausted`, 50 log rows.
async fn a_budget_holds_under_300_concurrent_consumes(budget: Value, extra: &str) {
    let t = TestApp::new().await;
    let mut fields = json!({"name": "Flash", "discount_fixed": "1", "currency": "EUR"});
    fields
        .as_object_mut()
        .unwrap()
        .extend(budget.as_object().unwrap().clone());
    let made = create_campaign(&t, fields).await;
    let id = made["campaign_id"].as_str().unwrap();
    let codes = codes(&t, id, 10, 100).await;

    let requests = (0..300).map(|i| t.send(consume(&t, &codes[i % 10], extra)));
    let responses = join_all(requests).await;
    let successes: Vec<_> = responses.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<_> = responses.iter().filter(|r| r.status != 200).collect();
    assert_eq!(successes.len(), 50, "exactly the budget's uses succeed");
    assert_eq!(refused.len(), 250);
    for response in &refused {
        response.assert_problem(409, "budget_exhausted");
    }
    let ids: BTreeSet<String> = successes
        .iter()
        .map(|r| r.string("redemption_id"))
        .collect();
    assert_eq!(ids.len(), 50);
    assert_eq!(
        logged(&t, &successes).await,
        ids,
        "one log row per use, no other"
    );

    let spent = campaign(&t, id).await;
    assert_eq!(spent["redeemed_count"], 50);
    assert_eq!(spent["discount_total"], "50.00");
    let left: u64 = {
        let mut left = 0;
        for code in &codes {
            let coupon = t
                .send(get(&format!("/coupon?code={code}")).token(&t.token_a))
                .await;
            left += coupon.json()["availability_count"].as_u64().unwrap();
        }
        left
    };
    assert_eq!(
        left,
        1_000 - 50,
        "every code gave exactly the uses that succeeded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_use_budget_holds_under_concurrent_consumes() {
    a_budget_holds_under_300_concurrent_consumes(json!({"budget_uses": 50}), "&order_amount=10")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_money_budget_holds_under_concurrent_consumes() {
    // 50.00 over eight shards is 6.25 each: the last uses need the
    // quarters of several shards moved into one.
    a_budget_holds_under_300_concurrent_consumes(
        json!({"budget_amount": "50.00"}),
        "&order_amount=10",
    )
    .await;
}

#[tokio::test]
async fn a_money_budget_refuses_the_discount_it_cannot_pay_and_needs_an_order() {
    let t = TestApp::new().await;
    let made = create_campaign(
        &t,
        json!({"name": "Capped", "discount_percent": 50, "currency": "EUR", "budget_amount": "30"}),
    )
    .await;
    let id = made["campaign_id"].as_str().unwrap();
    let code = &codes(&t, id, 1, 10).await[0];
    t.send(consume(&t, code, ""))
        .await
        .assert_problem(422, "invalid_request");
    t.send(consume(&t, code, "&order_amount=40"))
        .await
        .expect(200);
    // 10.00 left: a 12.50 discount does not fit, a 10.00 one does.
    let checked = t
        .send(get(&format!("/coupon/consume?code={code}&order_amount=25")).token(&t.token_a))
        .await;
    assert_eq!(checked.expect(200).json()["reason"], "budget_exhausted");
    t.send(consume(&t, code, "&order_amount=25"))
        .await
        .assert_problem(409, "budget_exhausted");
    t.send(consume(&t, code, "&order_amount=20"))
        .await
        .expect(200);
    let spent = campaign(&t, id).await;
    assert_eq!(spent["budget_amount_left"], "0.00");
    assert_eq!(spent["discount_total"], "30.00");
}

#[tokio::test]
async fn a_rollback_gives_its_budget_back() {
    let t = TestApp::new().await;
    let made = create_campaign(&t, json!({"name": "One", "budget_uses": 1})).await;
    let id = made["campaign_id"].as_str().unwrap();
    let codes = codes(&t, id, 2, 5).await;
    let first = t.send(consume(&t, &codes[0], "")).await;
    let redemption = first.expect(200).string("redemption_id");
    t.send(consume(&t, &codes[1], ""))
        .await
        .assert_problem(409, "budget_exhausted");
    let reversed = t
        .send(post(&format!("/coupon/consume/{redemption}/rollback")).token(&t.token_a))
        .await;
    assert_eq!(reversed.expect(200).json()["campaign_id"], id);
    assert_eq!(campaign(&t, id).await["budget_uses_left"], 1);
    t.send(consume(&t, &codes[1], "")).await.expect(200);
    t.send(consume(&t, &codes[0], ""))
        .await
        .assert_problem(409, "budget_exhausted");
}

#[tokio::test]
async fn a_budget_moves_but_never_below_what_is_spent() {
    let t = TestApp::new().await;
    let made = create_campaign(&t, json!({"name": "Moving", "budget_uses": 5})).await;
    let id = made["campaign_id"].as_str().unwrap();
    let code = &codes(&t, id, 1, 100).await[0];
    for _ in 0..3 {
        t.send(consume(&t, code, "")).await.expect(200);
    }
    let below = change(&t, id, json!({"budget_uses": 2})).await;
    below.assert_problem(422, "invalid_request");
    assert!(
        below.json()["detail"]
            .as_str()
            .unwrap()
            .contains("budget_uses")
    );
    let lowered = change(&t, id, json!({"budget_uses": 4})).await;
    assert_eq!(lowered.expect(200).json()["budget_uses_left"], 1);
    t.send(consume(&t, code, "")).await.expect(200);
    t.send(consume(&t, code, ""))
        .await
        .assert_problem(409, "budget_exhausted");
    // Unlimited, then limited again: what was spent in between counts.
    change(&t, id, json!({"budget_uses": null}))
        .await
        .expect(200);
    for _ in 0..3 {
        t.send(consume(&t, code, "")).await.expect(200);
    }
    let limited = change(&t, id, json!({"budget_uses": 8})).await;
    assert_eq!(limited.expect(200).json()["budget_uses_left"], 1);
    t.send(consume(&t, code, "")).await.expect(200);
    t.send(consume(&t, code, ""))
        .await
        .assert_problem(409, "budget_exhausted");
}

#[tokio::test]
async fn a_reservation_holds_budget_until_released_or_consumed() {
    let t = TestApp::new().await;
    let made = create_campaign(&t, json!({"name": "Held", "discount_fixed": "5", "currency": "EUR", "budget_uses": 1, "budget_amount": "5"})).await;
    let id = made["campaign_id"].as_str().unwrap();
    let codes = codes(&t, id, 2, 5).await;
    let held = t
        .send(
            post(&format!(
                "/coupon/reserve?code={}&order_amount=20",
                codes[0]
            ))
            .token(&t.token_a),
        )
        .await;
    let reservation = held.expect(201).string("reservation_id");
    let spent = campaign(&t, id).await;
    assert_eq!(
        (
            spent["reserved_count"].clone(),
            spent["budget_uses_left"].clone()
        ),
        (json!(1), json!(0))
    );
    t.send(consume(&t, &codes[1], "&order_amount=20"))
        .await
        .assert_problem(409, "budget_exhausted");
    t.send(delete(&format!("/coupon/reserve/{reservation}")).token(&t.token_a))
        .await
        .expect(204);
    assert_eq!(campaign(&t, id).await["budget_uses_left"], 1);

    let held = t
        .send(
            post(&format!(
                "/coupon/reserve?code={}&order_amount=20",
                codes[1]
            ))
            .token(&t.token_a),
        )
        .await;
    let reservation = held.expect(201).string("reservation_id");
    let converted = t
        .send(consume(
            &t,
            &codes[1],
            &format!("&reservation_id={reservation}&order_amount=20"),
        ))
        .await;
    assert_eq!(
        converted.expect(200).json()["pricing"]["discount_amount"],
        "5.00"
    );
    let spent = campaign(&t, id).await;
    assert_eq!(spent["reserved_count"], 0);
    assert_eq!(spent["redeemed_count"], 1);
    assert_eq!(spent["discount_total"], "5.00");
    assert_eq!(spent["budget_amount_left"], "0.00");
}

/// The measure of "one write": a campaign of 100,000 generated
/// codes (a bulk job) is switched off by one `PUT`, which is one
/// `TransactWriteItems` of the campaign item and its eight budget shards
/// whatever the number of codes, and every code refuses from then on.
/// (Few consumes here: moto copies the whole table for every transaction,
/// so with 100,000 items each takes seconds; validate reads instead.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_put_switches_off_a_campaign_of_100_000_codes() {
    const QUANTITY: usize = 100_000;
    let (t, counter) = TestApp::counted().await;
    let made = create_campaign(
        &t,
        json!({"name": "Mail-out", "discount_fixed": "5", "currency": "EUR"}),
    )
    .await;
    let id = made["campaign_id"].as_str().unwrap();
    let job = t
        .start_job(json!({"campaign_id": id, "quantity": QUANTITY, "pattern": "MAIL-####-####"}))
        .await;
    let outcome = t.run_worker().await;
    assert!(outcome.to_string().contains("succeeded"), "{outcome}");
    assert_eq!(campaign(&t, id).await["coupon_count"], QUANTITY);
    let listed = t
        .send(get(&format!("/coupon/jobs/{job}/codes")).token(&t.token_a))
        .await;
    let first_page: Vec<String> = listed.expect(200).json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let by_code = t
        .send(get(&format!("/coupon?campaign_id={id}&limit=100")).token(&t.token_a))
        .await;
    let sample: Vec<String> = first_page
        .iter()
        .step_by(50)
        .cloned()
        .chain(
            by_code.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned()),
        )
        .collect();
    let validate =
        |code: &str| get(&format!("/coupon/consume?code={code}&order_amount=10")).token(&t.token_a);
    for code in &sample {
        let checked = t.send(validate(code)).await;
        assert_eq!(checked.expect(200).json()["valid"], true);
    }
    t.send(consume(&t, &sample[0], "&order_amount=10"))
        .await
        .expect(200);

    counter.take();
    change(&t, id, json!({"active": false})).await.expect(200);
    let writes: Vec<String> = counter
        .take()
        .into_iter()
        .filter(|op| !op.starts_with("Get") && !op.starts_with("BatchGet"))
        .collect();
    assert_eq!(
        writes,
        ["UpdateItem", "TransactWriteItems"],
        "the limiter's bucket, then one transaction for the whole campaign"
    );
    for code in &sample {
        let checked = t.send(validate(code)).await;
        assert_eq!(checked.expect(200).json()["reason"], "inactive", "{code}");
    }
    // A consume from the cache of a code read before the switch: its write
    // finds the new revision and refuses.
    t.send(consume(&t, &sample[1], "&order_amount=10"))
        .await
        .assert_problem(409, "inactive");
    assert_eq!(campaign(&t, id).await["redeemed_count"], 1);
}

#[tokio::test]
async fn a_campaigns_codes_export_as_csv_with_their_uses_left() {
    let t = TestApp::new().await;
    let made = create_campaign(&t, json!({"name": "Print run"})).await;
    let id = made["campaign_id"].as_str().unwrap();
    let mut codes = codes(&t, id, 1_000, 3).await;
    codes.extend(self::codes(&t, id, 5, 1).await);
    t.send(consume(&t, &codes[0], "")).await.expect(200);
    t.send(
        put(&format!("/coupon/{}", codes[1]))
            .token(&t.token_a)
            .json(json!({"active": false})),
    )
    .await
    .expect(200);
    let exported = t
        .send(post(&format!("/campaigns/{id}/codes-export/")).token(&t.token_a))
        .await;
    let exported = exported.expect(201).json();
    assert_eq!(exported["object"], "codes_export");
    assert_eq!(exported["codes"], 1_005);
    let key = exported["key"].as_str().unwrap();
    assert!(
        key.starts_with(&format!("exports/tenant-a/campaigns/{id}/")) && key.ends_with(".csv"),
        "{key}"
    );
    let csv = String::from_utf8(crate::exports::download(exported["url"].as_str().unwrap()).await)
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "code,availability_count,redeemed_count,reserved_count,active"
    );
    assert_eq!(lines.len(), 1 + 1_005);
    let rows: std::collections::BTreeMap<&str, &str> = lines[1..]
        .iter()
        .map(|line| line.split_once(',').unwrap())
        .collect();
    assert_eq!(rows.len(), 1_005, "every code once");
    assert_eq!(rows[codes[0].as_str()], "2,1,0,true");
    assert_eq!(rows[codes[1].as_str()], "3,0,0,false");
    assert_eq!(rows[codes[1_004].as_str()], "1,0,0,true");
    // Another tenant's campaign, or none, is not there.
    t.send(post(&format!("/campaigns/{id}/codes-export")).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
    t.send(post("/campaigns/nope/codes-export").token(&t.token_a))
        .await
        .assert_problem(404, "not_found");
}
