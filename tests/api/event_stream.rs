//! Events come from the table's stream: each change clients hear about is
//! one event, put on the bus and queued for each webhook that wants it;
//! a stream batch handed over again hands nothing on twice.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::exports::export_today;
use crate::helpers::*;
use crate::pipeline::Pipeline;

fn consume(t: &TestApp, body: Value) -> RequestBuilder {
    post("/coupon/consume").token(&t.token_a).json(body)
}

/// Registers a webhook of tenant A for every event type; answers its id.
pub async fn catch_all_hook(t: &TestApp, url: &str) -> String {
    let created = t
        .send(
            post("/webhooks")
                .token(&t.token_a)
                .json(json!({"url": url, "events": ["*"]})),
        )
        .await;
    created.expect(201);
    created.string("id")
}

/// The queued deliveries' events by type, each event's body parsed.
async fn queued_by_type(pipeline: &Pipeline) -> BTreeMap<String, Vec<Value>> {
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for message in pipeline.queued().await {
        let body: Value = serde_json::from_str(message["body"].as_str().unwrap()).unwrap();
        assert_eq!(message["event_id"], body["id"]);
        assert_eq!(message["event_type"], body["type"]);
        by_type
            .entry(body["type"].as_str().unwrap().to_owned())
            .or_default()
            .push(body);
    }
    by_type
}

#[tokio::test]
async fn each_change_is_one_event_on_the_bus_and_in_the_webhook_queue() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    catch_all_hook(&t, "http://127.0.0.1:9/hook").await;
    t.create_coupon(
        json!({"code": "LAST-ONE", "availability_count": 1, "metadata": {"crm": "c-1"}}),
    )
    .await;
    let consumed = t
        .send(consume(
            &t,
            json!({"code": "LAST-ONE", "customer_id": "ann", "metadata": {"order": "o-1"}}),
        ))
        .await;
    consumed.expect(200);
    let redemption = consumed.string("redemption_id");
    let report = pipeline.pump().await;
    assert_eq!(report["events"], 3, "{report}");

    let queued = queued_by_type(&pipeline).await;
    let types: Vec<&str> = queued.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        ["coupon.created", "coupon.exhausted", "redemption.succeeded"]
    );
    let created = &queued["coupon.created"][0];
    assert_eq!(created["data"]["code"], "LAST-ONE");
    assert_eq!(created["data"]["metadata"], json!({"crm": "c-1"}));
    let succeeded = &queued["redemption.succeeded"][0];
    assert_eq!(succeeded["data"]["redemption_id"], redemption.as_str());
    assert_eq!(succeeded["data"]["customer_id"], "ann");
    assert_eq!(succeeded["data"]["metadata"], json!({"order": "o-1"}));
    let exhausted = &queued["coupon.exhausted"][0];
    assert_eq!(
        exhausted["data"]["redemption_id"],
        redemption.as_str(),
        "the use that took the last one"
    );
    for body in queued.values().flatten() {
        assert!(body["id"].as_str().unwrap().starts_with("evt_"));
        assert!(
            body.get("tenant").is_none(),
            "a receiver is its own tenant: {body}"
        );
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["created_at", "data", "id", "type"]);
    }

    // The bus got the same events, source coupon-service, with the tenant.
    let on_bus = pipeline.bus_events().await;
    assert_eq!(on_bus.len(), 3, "{on_bus:?}");
    for envelope in &on_bus {
        assert_eq!(envelope["source"], "coupon-service");
        let detail = &envelope["detail"];
        assert_eq!(envelope["detail-type"], detail["type"]);
        assert_eq!(detail["tenant"], "tenant-a");
        let queued_body = &queued[detail["type"].as_str().unwrap()][0];
        assert_eq!(detail["id"], queued_body["id"]);
        assert_eq!(detail["data"], queued_body["data"]);
    }

    // A rollback, a delete, a finished export: one event each.
    t.send(post(&format!("/coupon/consume/{redemption}/rollback")).token(&t.token_a))
        .await
        .expect(200);
    t.send(delete("/coupon/LAST-ONE").token(&t.token_a))
        .await
        .expect(204);
    export_today(&t).await.expect(201);
    pipeline.pump().await;
    let queued = queued_by_type(&pipeline).await;
    let rolled_back = &queued["redemption.rolled_back"];
    assert_eq!(rolled_back.len(), 1);
    assert_eq!(rolled_back[0]["data"]["reverses"], redemption.as_str());
    assert_eq!(queued["coupon.deleted"][0]["data"]["code"], "LAST-ONE");
    let export = &queued["export.completed"][0]["data"];
    assert!(
        export["key"]
            .as_str()
            .unwrap()
            .starts_with("exports/tenant-a/"),
        "{export}"
    );
    assert!(
        export.get("url").is_none(),
        "a key, not a link that expires"
    );
    assert_eq!(export["rows"], 2);
}

#[tokio::test]
async fn a_stream_batch_handed_over_again_hands_no_event_on_twice() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    catch_all_hook(&t, "http://127.0.0.1:9/hook").await;
    t.create_coupon(json!({"code": "TWICE", "availability_count": 5}))
        .await;
    for customer in ["a", "b"] {
        t.send(consume(
            &t,
            json!({"code": "TWICE", "customer_id": customer}),
        ))
        .await
        .expect(200);
    }
    let records = pipeline.new_records().await;
    let first = pipeline.hand_on(&records).await;
    assert_eq!(first["events"], 3, "{first}");
    let second = pipeline.hand_on(&records).await;
    assert_eq!(second["events"], 0, "{second}");
    assert_eq!(second["already_handed_on"], 3);
    let ids: Vec<Value> = pipeline
        .queued()
        .await
        .into_iter()
        .map(|m| m["event_id"].clone())
        .collect();
    assert_eq!(ids.len(), 3, "one delivery per event: {ids:?}");
    assert_eq!(pipeline.bus_events().await.len(), 3);

    // The same change read again (its marker gone, as after a crash
    // between handing on and marking) is the same event, same id.
    let again = common::event_source::events_of(&t.app().store, &records)
        .await
        .unwrap();
    let mut again_ids: Vec<Value> = again.iter().map(|e| json!(e.id)).collect();
    let mut queued_ids = ids.clone();
    again_ids.sort_by_key(Value::to_string);
    queued_ids.sort_by_key(Value::to_string);
    assert_eq!(again_ids, queued_ids);
}

#[tokio::test]
async fn a_bulk_job_is_one_event_and_its_codes_none() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    catch_all_hook(&t, "http://127.0.0.1:9/hook").await;
    let job = t.start_job(json!({"quantity": 1_001})).await;
    t.run_worker().await;
    pipeline.pump().await;
    let queued = queued_by_type(&pipeline).await;
    let types: Vec<&str> = queued.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        ["job.completed"],
        "no coupon.created for a job's codes"
    );
    let data = &queued["job.completed"][0]["data"];
    assert_eq!(data["job_id"], job.as_str());
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["created"], 1_001);
}

#[tokio::test]
async fn a_high_demand_coupon_is_exhausted_once_when_its_last_shard_runs_dry() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    catch_all_hook(&t, "http://127.0.0.1:9/hook").await;
    t.create_coupon(json!({"code": "SHARDED", "availability_count": 3, "high_demand": true}))
        .await;
    let mut last = String::new();
    for customer in ["a", "b", "c"] {
        let consumed = t
            .send(consume(
                &t,
                json!({"code": "SHARDED", "customer_id": customer}),
            ))
            .await;
        consumed.expect(200);
        last = consumed.string("redemption_id");
        // Each consume's records on their own: a shard that runs dry
        // while others hold uses is no event.
        pipeline.pump().await;
    }
    let queued = queued_by_type(&pipeline).await;
    let exhausted = &queued["coupon.exhausted"];
    assert_eq!(exhausted.len(), 1, "{exhausted:?}");
    assert_eq!(exhausted[0]["data"]["code"], "SHARDED");
    assert_eq!(exhausted[0]["data"]["redemption_id"], last.as_str());
    assert_eq!(queued["redemption.succeeded"].len(), 3);

    // A change of its terms writes every shard (still empty): that is no
    // consume, so no event, even read without the markers' help.
    t.send(
        put("/coupon/SHARDED")
            .token(&t.token_a)
            .json(json!({"product_id": "tv-55"})),
    )
    .await
    .expect(200);
    let records = pipeline.new_records().await;
    let events = common::event_source::events_of(&t.app().store, &records)
        .await
        .unwrap();
    assert_eq!(events, [], "{} records read", records.len());
}

/// The filters of the events function's stream mapping in template.yaml
/// let every record an event came from through (they are the function's
/// own rules, in EventBridge's pattern language).
#[tokio::test]
async fn the_templates_stream_filters_pass_every_record_an_event_comes_from() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    t.create_coupon(json!({"code": "F-1", "availability_count": 1}))
        .await;
    t.create_coupon(json!({"code": "F-2", "availability_count": 1, "high_demand": true}))
        .await;
    let mut redemptions = Vec::new();
    for code in ["F-1", "F-2"] {
        let consumed = t.send(consume(&t, json!({"code": code}))).await;
        redemptions.push(consumed.string("redemption_id"));
    }
    t.send(post(&format!("/coupon/consume/{}/rollback", redemptions[0])).token(&t.token_a))
        .await
        .expect(200);
    t.send(delete("/coupon/F-2").token(&t.token_a))
        .await
        .expect(204);
    export_today(&t).await.expect(201);
    t.start_job(json!({"quantity": 1_001})).await;
    t.run_worker().await;
    let records = pipeline.new_records().await;
    let template = crate::template::template();
    let mapping = &template["Resources"]["EventsFunction"]["Properties"]["Events"]["TableChanges"];
    let filters: Vec<Value> = mapping["Properties"]["FilterCriteria"]["Filters"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| serde_json::from_str(f["Pattern"].as_str().unwrap()).unwrap())
        .collect();
    let mut with_events = 0;
    for record in &records {
        let events = common::event_source::events_of(&t.app().store, std::slice::from_ref(record))
            .await
            .unwrap();
        let passes = filters.iter().any(|filter| matches(filter, record));
        if !events.is_empty() {
            with_events += 1;
            assert!(passes, "the template's filters drop {record}");
        }
    }
    // Created 2, consumed 2, exhausted 1 (the sharded coupon was deleted
    // before its shard's record was read), rolled back 1, deleted 1,
    // export 1, and the job (each write that finished it).
    assert!(with_events >= 9, "{with_events} records made events");
}

/// EventBridge's pattern matching as the filters use it: every key of the
/// pattern present, a list matching any of its values exactly.
fn matches(pattern: &Value, value: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(name, inner)| value.get(name).is_some_and(|v| matches(inner, v))),
        Value::Array(choices) => choices.iter().any(|choice| choice == value),
        other => other == value,
    }
}

/// Events meet the other features: a keyed retry writes nothing, so it is
/// no event; a reservation converted on the last use exhausts the coupon
/// with that use; a code deleted and made again is two coupons, each with
/// its own events.
#[tokio::test]
async fn retries_reservations_and_recreated_codes_each_give_their_own_events() {
    let t = TestApp::new().await;
    let mut pipeline = Pipeline::new(&t, "1").await;
    catch_all_hook(&t, "http://127.0.0.1:9/hook").await;
    t.create_coupon(json!({"code": "AGAIN", "availability_count": 2}))
        .await;
    for _ in 0..2 {
        t.send(consume(&t, json!({"code": "AGAIN"})).header("idempotency-key", "order-1"))
            .await
            .expect(200);
    }
    let held = t
        .send(
            post("/coupon/reserve")
                .token(&t.token_a)
                .json(json!({"code": "AGAIN"})),
        )
        .await;
    let reservation = held.expect(201).string("reservation_id");
    let converted = t
        .send(consume(
            &t,
            json!({"code": "AGAIN", "reservation_id": reservation}),
        ))
        .await;
    converted.expect(200);
    let last_use = converted.string("redemption_id");
    t.send(delete("/coupon/AGAIN").token(&t.token_a))
        .await
        .expect(204);
    t.create_coupon(json!({"code": "AGAIN", "availability_count": 1}))
        .await;
    pipeline.pump().await;
    let queued = queued_by_type(&pipeline).await;
    assert_eq!(
        queued["redemption.succeeded"].len(),
        2,
        "the keyed retry is no event"
    );
    let exhausted = &queued["coupon.exhausted"];
    assert_eq!(exhausted.len(), 1);
    assert_eq!(exhausted[0]["data"]["redemption_id"], last_use.as_str());
    let created = &queued["coupon.created"];
    assert_eq!(created.len(), 2, "one per coupon made under the code");
    assert_ne!(created[0]["id"], created[1]["id"]);
    assert_eq!(queued["coupon.deleted"].len(), 1);
    let deleted_one = &queued["coupon.deleted"][0]["data"]["coupon_created_at"];
    assert!(
        created
            .iter()
            .any(|c| &c["data"]["created_at"] == deleted_one)
    );
}
