//! `GET /stats`: each row of the redemption log counted once on its day,
//! from the table's stream, however often the stream hands it over.

use chrono::Utc;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::pipeline::Pipeline;

fn consume(t: &TestApp, body: Value) -> RequestBuilder {
    post("/coupon/consume").token(&t.token_a).json(body)
}

async fn today(t: &TestApp, token: &str) -> Value {
    let day = Utc::now().date_naive();
    let stats = t
        .send(get(&format!("/stats?from={day}&to={day}")).token(token))
        .await;
    stats.expect(200);
    let body = stats.json();
    assert_eq!(body["days"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["days"][0]["date"], day.to_string());
    assert_eq!(
        body["days"][0]["redemptions"],
        body["totals"]["redemptions"]
    );
    body["totals"].clone()
}

#[tokio::test]
async fn each_log_row_counts_once_on_its_day_per_currency() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    t.create_coupon(json!({"code": "FIVE-OFF", "availability_count": 10, "discount_fixed": "5"}))
        .await;
    t.create_coupon(json!({"code": "TEN-PCT", "availability_count": 10, "discount_percent": "10", "currency": "USD"}))
        .await;
    let mut redemptions = Vec::new();
    for body in [
        json!({"code": "FIVE-OFF", "order_amount": "40", "currency": "EUR"}),
        // No currency from the order or the coupon; the discount is the order.
        json!({"code": "FIVE-OFF", "order_amount": "3"}),
        // Not priced: a use, but no amount.
        json!({"code": "FIVE-OFF"}),
        json!({"code": "TEN-PCT", "order_amount": "50"}),
    ] {
        let consumed = t.send(consume(&t, body)).await;
        consumed.expect(200);
        redemptions.push(consumed.string("redemption_id"));
    }
    t.send(post(&format!("/coupon/consume/{}/rollback", redemptions[0])).token(&t.token_a))
        .await
        .expect(200);
    let empty = json!({"redemptions": 0, "reversals": 0, "discount": []});
    assert_eq!(
        today(&t, &t.token_a).await,
        empty,
        "nothing before the stream is read"
    );

    let records = pipeline.new_records().await;
    pipeline.hand_on(&records).await;
    let expected = json!({
        "redemptions": 4,
        "reversals": 1,
        "discount": [
            {"currency": "EUR", "given": "5.00", "given_minor": 500, "reversed": "5.00", "reversed_minor": 500},
            {"currency": "USD", "given": "5.00", "given_minor": 500, "reversed": "0.00", "reversed_minor": 0},
            {"currency": "XXX", "given": "3.00", "given_minor": 300, "reversed": "0.00", "reversed_minor": 0},
        ],
    });
    assert_eq!(today(&t, &t.token_a).await, expected);
    // Lambda hands the batch over again: nothing counts twice.
    let again = pipeline.hand_on(&records).await;
    assert_eq!(again["events"], 0, "{again}");
    assert_eq!(today(&t, &t.token_a).await, expected);
    // Another tenant's figures are its own.
    assert_eq!(today(&t, &t.token_b).await, empty);

    // The default range: the 30 days ending today, every day present.
    let month = t.send(get("/stats").token(&t.token_a)).await;
    month.expect(200);
    let days = month.json()["days"].as_array().unwrap().clone();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["redemptions"], 4);
    assert!(days[..29].iter().all(|d| d["redemptions"] == 0));
}

#[tokio::test]
async fn a_batch_handed_to_many_instances_at_once_counts_each_row_once() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    t.create_coupon(json!({"code": "MANY", "availability_count": 100, "discount_fixed": "1.25", "currency": "EUR"}))
        .await;
    let consumes =
        (0..20).map(|_| t.send(consume(&t, json!({"code": "MANY", "order_amount": "10"}))));
    for consumed in join_all(consumes).await {
        consumed.expect(200);
    }
    let records = pipeline.new_records().await;
    // Eight overlapping deliveries of one batch (a retry beside a slow
    // first attempt): each reads no marker, and all write.
    let reports = join_all((0..8).map(|_| pipeline.hand_on(&records))).await;
    assert_eq!(reports.len(), 8);
    let totals = today(&t, &t.token_a).await;
    assert_eq!(totals["redemptions"], 20, "{totals}");
    assert_eq!(totals["discount"][0]["given"], "25.00", "{totals}");
}

#[tokio::test]
async fn a_range_is_days_in_order_and_at_most_a_year() {
    let t = TestApp::new().await;
    for (query, detail) in [
        (
            "from=2026-12-04&to=2026-12-03",
            "from (2026-12-04) must not be after to (2026-12-03)",
        ),
        (
            "from=2025-01-01&to=2026-01-02",
            "a range covers at most 366 days",
        ),
        ("from=03-Dec-2026", "from must be a date like 2026-11-04"),
        ("to=tomorrow", "to must be a date like 2026-11-04"),
        ("since=2026-01-01", "since"),
    ] {
        let answer = t
            .send(get(&format!("/stats?{query}")).token(&t.token_a))
            .await;
        answer.expect(422);
        assert!(
            answer.json()["detail"].as_str().unwrap().contains(detail),
            "{query}: {}",
            answer.text()
        );
    }
    t.send(get("/stats")).await.expect(401);
}

/// The figures follow the log whatever happens around a use: a keyed retry
/// (no second row), a hold released (none) or converted (one), a
/// `high_demand` coupon's shards, a campaign's cap on the discount, a code
/// deleted and made again, and a rollback on a later day (its own day).
#[tokio::test]
async fn figures_follow_the_log_through_retries_holds_shards_campaigns_and_later_rollbacks() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    t.create_coupon(
        json!({"code": "KEYED", "availability_count": 5, "discount_fixed": "2", "currency": "EUR"}),
    )
    .await;
    let keyed = || {
        consume(&t, json!({"code": "KEYED", "order_amount": "10"}))
            .header("idempotency-key", "order-1")
    };
    let first = t.send(keyed()).await;
    first.expect(200);
    t.send(keyed()).await.expect(200);
    for convert in [false, true] {
        let held = t
            .send(
                post("/coupon/reserve")
                    .token(&t.token_a)
                    .json(json!({"code": "KEYED"})),
            )
            .await;
        let id = held.expect(201).string("reservation_id");
        if convert {
            t.send(consume(
                &t,
                json!({"code": "KEYED", "reservation_id": id, "order_amount": "10"}),
            ))
            .await
            .expect(200);
        } else {
            t.send(delete(&format!("/coupon/reserve/{id}")).token(&t.token_a))
                .await
                .expect(204);
        }
    }
    t.create_coupon(json!({"code": "SHARDED", "availability_count": 50, "high_demand": true, "discount_fixed": "1", "currency": "EUR"}))
        .await;
    for _ in 0..3 {
        t.send(consume(
            &t,
            json!({"code": "SHARDED", "order_amount": "10"}),
        ))
        .await
        .expect(200);
    }
    let campaign = t
        .send(post("/campaigns").token(&t.token_a).json(json!({
            "name": "Capped", "discount_percent": "50", "max_discount_amount": "4", "currency": "EUR",
        })))
        .await;
    let campaign_id = campaign.expect(201).string("campaign_id");
    let made = t
        .send(
            post("/coupon")
                .token(&t.token_a)
                .json(json!({"campaign_id": campaign_id, "code": "CAPPED"})),
        )
        .await;
    made.expect(201);
    t.send(consume(
        &t,
        json!({"code": "CAPPED", "order_amount": "100"}),
    ))
    .await
    .expect(200);
    // Deleted and made again: the new coupon's use is one more row.
    t.send(delete("/coupon/KEYED").token(&t.token_a))
        .await
        .expect(204);
    t.create_coupon(
        json!({"code": "KEYED", "availability_count": 5, "discount_fixed": "2", "currency": "EUR"}),
    )
    .await;
    t.send(consume(&t, json!({"code": "KEYED", "order_amount": "10"})))
        .await
        .expect(200);
    pipeline.pump().await;
    // Uses: keyed 1, converted hold 1, shards 3, campaign 1, re-made 1.
    // Discount: 2 + 2 + 3 x 1 + 4 (50 % of 100, capped) + 2.
    let totals = today(&t, &t.token_a).await;
    assert_eq!(totals["redemptions"], 7, "{totals}");
    assert_eq!(totals["discount"][0]["given"], "13.00", "{totals}");

    // The first use is rolled back tomorrow: tomorrow's figures have it.
    t.app().clock.advance(chrono::Duration::days(1));
    t.send(
        post(&format!(
            "/coupon/consume/{}/rollback",
            first.string("redemption_id")
        ))
        .token(&t.token_a),
    )
    .await
    .expect(200);
    pipeline.pump().await;
    let day = Utc::now().date_naive();
    let next = day.succ_opt().unwrap();
    let two_days = t
        .send(get(&format!("/stats?from={day}&to={next}")).token(&t.token_a))
        .await
        .json();
    let days = two_days["days"].as_array().unwrap();
    assert_eq!(
        (days[0]["redemptions"].clone(), days[0]["reversals"].clone()),
        (json!(7), json!(0))
    );
    assert_eq!(
        (days[1]["redemptions"].clone(), days[1]["reversals"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(days[1]["discount"][0]["reversed"], "2.00", "{two_days}");
    assert_eq!(two_days["totals"]["reversals"], 1);
}
