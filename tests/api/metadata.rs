//! `metadata` on coupons, campaigns and consumes: set and replaced in JSON
//! and in forms (`metadata[key]=value`), shown wherever the object is, kept
//! on the log row, and refused with a 422 that names the field.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_coupons_metadata_is_set_replaced_and_shown_everywhere() {
    let t = TestApp::new().await;
    let a = |b: RequestBuilder| b.token(&t.token_a);
    let created = t
        .send(a(post("/coupon")).json(json!({
            "code": "META-1",
            "metadata": {"crm_id": "c-1", "batch": 7, "empty": "", "unset": null}
        })))
        .await;
    created.expect(201);
    assert_eq!(
        created.json()["metadata"],
        json!({"crm_id": "c-1", "batch": "7"})
    );
    let details = t.send(a(get("/coupon?code=META-1"))).await.json();
    assert_eq!(details["metadata"], json!({"crm_id": "c-1", "batch": "7"}));

    // A form's `metadata[key]` fields replace the whole set.
    let changed = t
        .send(
            a(put("/coupon/META-1"))
                .form(&[("metadata[crm_id]", "c-2"), ("metadata[tier]", "gold")]),
        )
        .await;
    changed.expect(200);
    assert_eq!(
        changed.json()["metadata"],
        json!({"crm_id": "c-2", "tier": "gold"})
    );
    let validated = t.send(a(get("/coupon/consume?code=META-1"))).await.json();
    assert_eq!(
        validated["coupon"]["metadata"],
        json!({"crm_id": "c-2", "tier": "gold"})
    );
    // Other changes leave it alone; `null` removes it.
    let active = t
        .send(a(put("/coupon/META-1")).json(json!({"availability_count": 3})))
        .await;
    assert_eq!(
        active.json()["metadata"],
        json!({"crm_id": "c-2", "tier": "gold"})
    );
    let cleared = t
        .send(a(put("/coupon/META-1")).json(json!({"metadata": null})))
        .await;
    assert_eq!(cleared.json()["metadata"], json!({}));
    assert_eq!(
        t.send(a(get("/coupon?code=META-1"))).await.json()["metadata"],
        json!({})
    );

    // Generated codes, in one request and by a job, each carry it.
    let many = t
        .send(a(post("/coupon")).form(&[("quantity", "3"), ("metadata[wave]", "w1")]))
        .await;
    many.expect(201);
    for coupon in many.json()["data"].as_array().unwrap() {
        assert_eq!(coupon["metadata"], json!({"wave": "w1"}));
    }
    let job = t
        .start_job(json!({"quantity": 1_001, "metadata": {"wave": "w2"}}))
        .await;
    t.run_worker().await;
    let codes = crate::jobs::listed(&t, &job, "codes").await;
    assert_eq!(codes.len(), 1_001);
    let code = &codes[1_000];
    let coupon = t.send(a(get(&format!("/coupon?code={code}")))).await.json();
    assert_eq!(coupon["metadata"], json!({"wave": "w2"}));
}

#[tokio::test]
async fn campaigns_and_their_codes_carry_their_own_metadata() {
    let t = TestApp::new().await;
    let a = |b: RequestBuilder| b.token(&t.token_a);
    let campaign = t
        .send(a(post("/campaigns")).json(json!({
            "name": "Spring", "discount_percent": "10", "metadata": {"crm_campaign": "SPR-26"}
        })))
        .await;
    campaign.expect(201);
    assert_eq!(
        campaign.json()["metadata"],
        json!({"crm_campaign": "SPR-26"})
    );
    let id = campaign.string("campaign_id");
    let changed = t
        .send(a(put(&format!("/campaigns/{id}"))).form(&[("metadata[owner]", "marketing")]))
        .await;
    assert_eq!(changed.json()["metadata"], json!({"owner": "marketing"}));
    assert_eq!(changed.json()["discount"]["value"], "10.00");

    // Metadata is not a term: a campaign code has its own, and may change it.
    let code = t
        .send(a(post("/coupon")).json(json!({
            "code": "SPRING-ANNA", "campaign_id": id, "metadata": {"customer": "anna"}
        })))
        .await;
    code.expect(201);
    assert_eq!(code.json()["metadata"], json!({"customer": "anna"}));
    let changed = t
        .send(a(put("/coupon/SPRING-ANNA")).json(json!({"metadata": {"customer": "bob"}})))
        .await;
    changed.expect(200);
    assert_eq!(changed.json()["metadata"], json!({"customer": "bob"}));
    let listed = t.send(a(get(&format!("/campaigns/{id}")))).await.json();
    assert_eq!(listed["metadata"], json!({"owner": "marketing"}));
}

#[tokio::test]
async fn a_consume_keeps_its_metadata_on_its_row_and_its_reversal() {
    let t = TestApp::new().await;
    let a = |b: RequestBuilder| b.token(&t.token_a);
    t.create_coupon(json!({"code": "ORDERS", "availability_count": 5, "metadata": {"c": "1"}}))
        .await;
    let consumed = t
        .send(
            a(post("/coupon/consume"))
                .header("Idempotency-Key", "order-1")
                .json(json!({"code": "ORDERS", "metadata": {"order_id": "ord-1"}})),
        )
        .await;
    consumed.expect(200);
    let row = consumed.json();
    assert_eq!(row["metadata"], json!({"order_id": "ord-1"}));
    // The same key with other metadata is another request: refused.
    t.send(
        a(post("/coupon/consume"))
            .header("Idempotency-Key", "order-1")
            .json(json!({"code": "ORDERS", "metadata": {"order_id": "ord-2"}})),
    )
    .await
    .assert_problem(422, "idempotency_key_reused");
    let replayed = t
        .send(
            a(post("/coupon/consume"))
                .header("Idempotency-Key", "order-1")
                .json(json!({"code": "ORDERS", "metadata": {"order_id": "ord-1"}})),
        )
        .await;
    assert_eq!(replayed.json(), row);

    // As a form, and in the query string the seed's clients use.
    let by_form = t
        .send(
            a(post("/coupon/consume")).form(&[("code", "ORDERS"), ("metadata[order_id]", "ord-3")]),
        )
        .await;
    assert_eq!(by_form.json()["metadata"], json!({"order_id": "ord-3"}));
    let by_query = t
        .send(a(post(
            "/coupon/consume?code=ORDERS&metadata%5Border_id%5D=ord-4",
        )))
        .await;
    assert_eq!(by_query.json()["metadata"], json!({"order_id": "ord-4"}));

    let id = row["redemption_id"].as_str().unwrap();
    let reversal = t
        .send(a(post(&format!("/coupon/consume/{id}/rollback"))))
        .await;
    reversal.expect(200);
    assert_eq!(reversal.json()["metadata"], json!({"order_id": "ord-1"}));

    let rows = t.redemption_rows(chrono::Utc::now()).await;
    let stored: Vec<Value> = rows
        .iter()
        .filter_map(|item| {
            let map = item.get("metadata")?.as_m().ok()?;
            Some(json!(map["order_id"].as_s().unwrap()))
        })
        .collect();
    // ord-1, its reversal, ord-3 and ord-4; the coupon's own is not copied.
    assert_eq!(stored.len(), 4, "{stored:?}");
}

#[tokio::test]
async fn bad_metadata_is_a_422_that_names_the_field_and_writes_nothing() {
    let t = TestApp::new().await;
    let a = |b: RequestBuilder| b.token(&t.token_a);
    t.create_coupon(json!({"code": "KEEP", "metadata": {"k": "v"}}))
        .await;
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let bad = [
        json!(many),
        json!({ "k".repeat(41): "v" }),
        json!({ "k": "v".repeat(501) }),
        json!({"a[b]": "v"}),
        json!({"": "v"}),
        json!({"k": {"nested": "v"}}),
        json!({"k": true}),
        json!(["k", "v"]),
        json!("k=v"),
    ];
    for metadata in bad {
        let attempts = [
            a(post("/coupon")).json(json!({"code": "NEW", "metadata": metadata})),
            a(put("/coupon/KEEP")).json(json!({"metadata": metadata})),
            a(post("/campaigns")).json(json!({"name": "N", "metadata": metadata})),
            a(post("/coupon/consume")).json(json!({"code": "KEEP", "metadata": metadata})),
        ];
        for attempt in attempts {
            let refused = t.send(attempt).await;
            refused.assert_problem(422, "invalid_request");
            let detail = refused.json()["detail"].as_str().unwrap().to_owned();
            assert!(detail.starts_with("metadata: "), "{detail}");
        }
    }
    // A form that gives the field both ways; metadata where it means nothing.
    t.send(a(post("/coupon")).form(&[("metadata", "x"), ("metadata[k]", "v")]))
        .await
        .assert_problem(422, "invalid_request");
    for path in [
        "/coupon/reserve",
        "/coupon/consume?code=KEEP&metadata%5Bk%5D=v",
    ] {
        let request = match path {
            "/coupon/reserve" => {
                a(post(path)).json(json!({"code": "KEEP", "metadata": {"k": "v"}}))
            }
            _ => a(get(path)),
        };
        t.send(request).await.assert_problem(422, "invalid_request");
    }

    let kept = t.send(a(get("/coupon?code=KEEP"))).await.json();
    assert_eq!(
        (kept["metadata"].clone(), kept["redeemed_count"].clone()),
        (json!({"k": "v"}), json!(0))
    );
    t.send(a(get("/coupon?code=NEW")))
        .await
        .assert_problem(404, "not_found");
    let campaigns = t.send(a(get("/campaigns"))).await.json();
    assert_eq!(campaigns["data"], json!([]));
}
