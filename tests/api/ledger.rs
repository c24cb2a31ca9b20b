//! `GET /redemptions` and `GET /redemptions/{id}`: the log by code,
//! customer, campaign, kind and time, newest first, page by page, and never
//! across the tenant boundary.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::*;

/// Every row a query answers, following `next_cursor` page by page.
async fn all_pages(t: &TestApp, token: &str, query: &str, limit: u32) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut path = format!("/redemptions?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", urlencode(cursor)));
        }
        let page = t.send(get(&path).token(token)).await;
        page.expect(200);
        let page = page.json();
        assert_eq!(page["object"], "list");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit as usize);
        rows.extend(data.iter().cloned());
        assert_eq!(page["has_more"], page["next_cursor"].is_string(), "{page}");
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
    panic!("{query}: more than 1,000 pages");
}

/// Every row of a query, newest first and each once.
async fn rows_of(t: &TestApp, query: &str) -> Vec<Value> {
    let rows = all_pages(t, &t.token_a, query, 100).await;
    assert_newest_first(&rows);
    rows
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("c", text)]).unwrap()[2..].to_owned()
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["redemption_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Newest first: ids are UUIDv7s, so (time, id) order is id order.
fn assert_newest_first(rows: &[Value]) {
    let ids = ids(rows);
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(ids, sorted, "newest first, each once");
}

async fn consume(t: &TestApp, code: &str, customer: Option<&str>) -> Value {
    let mut fields = json!({"code": code, "metadata": {"order_id": format!("o-{code}")}});
    if let Some(customer) = customer {
        fields["customer_id"] = json!(customer);
    }
    let consumed = t
        .send(post("/coupon/consume").token(&t.token_a).json(fields))
        .await;
    consumed.expect(200);
    consumed.json()
}

#[tokio::test]
async fn the_log_answers_by_code_customer_campaign_kind_and_time() {
    let t = TestApp::new().await;
    let a = |b: RequestBuilder| b.token(&t.token_a);
    for code in ["LOG-X", "LOG-Y"] {
        t.create_coupon(json!({"code": code, "availability_count": 5}))
            .await;
    }
    let campaign = t
        .send(a(post("/campaigns")).json(json!({"name": "Log", "discount_percent": "5"})))
        .await
        .string("campaign_id");
    t.send(a(post("/coupon")).json(json!({"code": "LOG-Z", "campaign_id": campaign})))
        .await
        .expect(201);

    let x1 = consume(&t, "LOG-X", Some("c1")).await;
    consume(&t, "LOG-X", Some("c1")).await;
    consume(&t, "LOG-X", Some("c2")).await;
    consume(&t, "LOG-Y", Some("c1")).await;
    consume(&t, "LOG-Z", Some("c2")).await;
    consume(&t, "LOG-Y", None).await;
    let x1_id = x1["redemption_id"].as_str().unwrap();
    let reversal = t
        .send(a(post(&format!("/coupon/consume/{x1_id}/rollback"))))
        .await;
    reversal.expect(200);
    let reversal_id = reversal.string("redemption_id");
    // Tenant B's own row, which none of A's queries may show.
    let theirs = t
        .send(
            post("/coupon")
                .token(&t.token_b)
                .json(json!({"code": "LOG-X"})),
        )
        .await;
    theirs.expect(201);
    t.send(post("/coupon/consume?code=LOG-X&customer_id=c1").token(&t.token_b))
        .await
        .expect(200);

    let everything = rows_of(&t, "").await;
    assert_eq!(everything.len(), 7, "six consumes and a reversal");
    assert_eq!(everything[0]["redemption_id"], reversal_id.as_str());
    assert_eq!(everything[0]["object"], "reversal");
    assert_eq!(everything[0]["metadata"], json!({"order_id": "o-LOG-X"}));
    let rolled = everything
        .iter()
        .find(|r| r["redemption_id"] == x1_id)
        .unwrap();
    assert_eq!(rolled["rolled_back_by"], reversal_id.as_str());

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let cases = [
        ("code=LOG-X".to_owned(), 4),
        ("code=log-x".to_owned(), 4),
        ("code=LOG-Y".to_owned(), 2),
        ("customer_id=c1".to_owned(), 4),
        ("customer_id=c2".to_owned(), 2),
        (format!("campaign_id={campaign}"), 1),
        ("kind=reversal".to_owned(), 1),
        ("kind=consume".to_owned(), 6),
        ("code=LOG-X&kind=consume".to_owned(), 3),
        ("code=LOG-X&customer_id=c2".to_owned(), 1),
        ("customer_id=c1&kind=reversal".to_owned(), 1),
        // Time: a day alone is all of it; a range in the future holds nothing.
        (format!("from={today}&to={today}"), 7),
        ("from=2099-01-01".to_owned(), 0),
        ("to=2001-01-01".to_owned(), 0),
        ("code=LOG-X&from=2099-01-01".to_owned(), 0),
    ];
    for (query, expected) in cases {
        let rows = rows_of(&t, &query).await;
        assert_eq!(rows.len(), expected, "{query}: {rows:?}");
    }
    for row in rows_of(&t, "customer_id=c2").await {
        assert_eq!(row["customer_id"], "c2");
    }
    let in_campaign = rows_of(&t, &format!("campaign_id={campaign}&customer_id=c2")).await;
    assert_eq!(in_campaign[0]["code"], "LOG-Z");
    assert_eq!(in_campaign[0]["campaign_id"], campaign.as_str());

    // Paged one row at a time: the same rows in the same order.
    for query in ["", "code=LOG-X", "customer_id=c1", "kind=consume"] {
        let whole = rows_of(&t, query).await;
        let paged = all_pages(&t, &t.token_a, query, 1).await;
        assert_eq!(ids(&paged), ids(&whole), "{query}");
    }

    // Tenant B sees its one row and none of A's; A's ids are 404 to B.
    let b_rows = all_pages(&t, &t.token_b, "", 100).await;
    assert_eq!(b_rows.len(), 1);
    assert!(
        all_pages(&t, &t.token_b, "customer_id=c2", 100)
            .await
            .is_empty()
    );
    assert_eq!(all_pages(&t, &t.token_b, "code=LOG-X", 100).await.len(), 1);
    t.send(get(&format!("/redemptions/{x1_id}")).token(&t.token_b))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn one_row_comes_with_its_reversal() {
    let t = TestApp::new().await;
    let a = |b: RequestBuilder| b.token(&t.token_a);
    t.create_coupon(json!({"code": "ONE", "availability_count": 2}))
        .await;
    let kept = consume(&t, "ONE", Some("c9")).await;
    let rolled = consume(&t, "ONE", Some("c9")).await;
    let rolled_id = rolled["redemption_id"].as_str().unwrap();
    let reversal = t
        .send(a(post(&format!("/coupon/consume/{rolled_id}/rollback"))))
        .await
        .json();

    let entry = t.send(a(get(&format!("/redemptions/{rolled_id}")))).await;
    entry.expect(200);
    let entry = entry.json();
    assert_eq!(entry["object"], "redemption");
    assert_eq!(entry["customer_id"], "c9");
    assert_eq!(entry["metadata"], json!({"order_id": "o-ONE"}));
    assert_eq!(entry["rolled_back_by"], reversal["redemption_id"]);
    assert_eq!(entry["reversal"]["object"], "reversal");
    assert_eq!(
        entry["reversal"]["redemption_id"],
        reversal["redemption_id"]
    );
    assert_eq!(entry["reversal"]["reverses"], rolled_id);

    let kept_id = kept["redemption_id"].as_str().unwrap();
    let entry = t
        .send(a(get(&format!("/redemptions/{kept_id}"))))
        .await
        .json();
    assert!(entry.get("reversal").is_none() && entry.get("rolled_back_by").is_none());
    let reversal_id = reversal["redemption_id"].as_str().unwrap();
    let entry = t
        .send(a(get(&format!("/redemptions/{reversal_id}"))))
        .await
        .json();
    assert_eq!(entry["reverses"], rolled_id);

    for unknown in [
        "nonsense".to_owned(),
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        t.send(a(get(&format!("/redemptions/{unknown}"))))
            .await
            .assert_problem(404, "not_found");
    }
}

#[tokio::test]
async fn bad_queries_and_other_tenants_cursors_are_refused() {
    let t = TestApp::new().await;
    t.create_coupon(json!({"code": "CUR", "availability_count": 3}))
        .await;
    for _ in 0..3 {
        consume(&t, "CUR", None).await;
    }
    let page = t
        .send(get("/redemptions?limit=1").token(&t.token_a))
        .await
        .json();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    // A's cursor is A's: B gets a 422, not A's rows (nor its own).
    t.send(get(&format!("/redemptions?cursor={}", urlencode(&cursor))).token(&t.token_b))
        .await
        .assert_problem(422, "invalid_request");
    let forged = cursor.replacen("tenant-a", "tenant-b", 1);
    let forged_page = t
        .send(get(&format!("/redemptions?cursor={}", urlencode(&forged))).token(&t.token_b))
        .await;
    forged_page.expect(200);
    assert_eq!(
        forged_page.json()["data"],
        json!([]),
        "B's own log is empty"
    );

    for query in [
        "limit=0",
        "limit=101",
        "kind=refund",
        "from=yesterday",
        "from=2026-02-01&to=2026-01-01",
        "cursor=abc",
        "code=not%20a%20code",
        "campaign_id=nope",
        "tenant=tenant-b",
    ] {
        t.send(get(&format!("/redemptions?{query}")).token(&t.token_a))
            .await
            .assert_problem(422, "invalid_request");
    }
}

#[tokio::test]
async fn many_rows_over_days_and_shards_page_out_whole_and_in_order() {
    let t = TestApp::new().await;
    t.create_coupon(json!({"code": "MANY-A", "availability_count": 100}))
        .await;
    t.create_coupon(json!({"code": "MANY-B", "availability_count": 100}))
        .await;
    // Rows on four days, one of them 40 days on: more than one page's walk
    // of 31 days lies between.
    let mut expected = BTreeSet::new();
    let mut reversals = BTreeSet::new();
    let mut day = 0;
    for (on_day, n) in [(0, 9), (1, 7), (3, 5), (44, 6)] {
        t.app().clock.advance(chrono::Duration::days(on_day - day));
        day = on_day;
        for i in 0..n {
            let code = if i % 2 == 0 { "MANY-A" } else { "MANY-B" };
            let row = consume(&t, code, Some(&format!("cust-{}", i % 3))).await;
            let id = row["redemption_id"].as_str().unwrap().to_owned();
            if i % 3 == 0 {
                let reversal = t
                    .send(post(&format!("/coupon/consume/{id}/rollback")).token(&t.token_a))
                    .await;
                reversals.insert(reversal.string("redemption_id"));
            }
            expected.insert(id);
        }
    }
    let all: BTreeSet<String> = expected.union(&reversals).cloned().collect();
    for limit in [1, 4, 100] {
        let rows = all_pages(&t, &t.token_a, "", limit).await;
        assert_newest_first(&rows);
        assert_eq!(
            ids(&rows).into_iter().collect::<BTreeSet<_>>(),
            all,
            "limit {limit}"
        );
        let consumes = all_pages(&t, &t.token_a, "kind=consume", limit).await;
        assert_newest_first(&consumes);
        assert_eq!(
            ids(&consumes).into_iter().collect::<BTreeSet<_>>(),
            expected
        );
        let reversed = all_pages(&t, &t.token_a, "kind=reversal", limit).await;
        assert_eq!(
            ids(&reversed).into_iter().collect::<BTreeSet<_>>(),
            reversals
        );
    }
    for query in [
        "code=MANY-A",
        "customer_id=cust-1",
        "code=MANY-B&customer_id=cust-0",
    ] {
        let whole = all_pages(&t, &t.token_a, query, 100).await;
        let paged = all_pages(&t, &t.token_a, query, 3).await;
        assert_newest_first(&paged);
        assert_eq!(ids(&paged), ids(&whole), "{query}");
        assert!(!whole.is_empty(), "{query}");
    }
}
