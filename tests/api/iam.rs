//! IAM as deployed: template.yaml after the SAM transform (what `sam
//! deploy` creates, roles and permissions SAM generates included), read
//! from `scripts/sam_transform.py`. Every role is ours, scoped to our
//! resources, with no AWS managed policy; each `"*"` is one AWS requires;
//! writes to the table are held to tenants' keys (`T#…`) by
//! `dynamodb:LeadingKeys`; and each function is granted exactly what its
//! code calls, as a realistic run observes it through the SDK.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::helpers::*;

/// The transformed template (JSON), made once per test run.
fn transformed() -> &'static Value {
    static TRANSFORMED: OnceLock<Value> = OnceLock::new();
    TRANSFORMED.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let output = std::process::Command::new(root.join(".venv/bin/python"))
            .arg("scripts/sam_transform.py")
            .arg("template.yaml")
            .current_dir(&root)
            .output()
            .expect("run .venv/bin/python (make bootstrap installs the SAM translator)");
        assert!(
            output.status.success(),
            "sam_transform.py: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the transform prints JSON")
    })
}

fn resources() -> impl Iterator<Item = (&'static String, &'static Value)> {
    transformed()["Resources"].as_object().unwrap().iter()
}

fn of_type(kind: &'static str) -> impl Iterator<Item = (&'static String, &'static Value)> {
    resources().filter(move |(_, r)| r["Type"] == kind)
}

/// An ARN or intrinsic as text: `{"Fn::GetAtt": ["CouponTable", "Arn"]}` →
/// `CouponTable.Arn`, `{"Fn::Sub": "${CouponTable.Arn}/index/GSI1"}` →
/// `CouponTable.Arn/index/GSI1`, `{"Ref": "X"}` → `X`.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("Fn::GetAtt") => o["Fn::GetAtt"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
            .join("."),
        Value::Object(o) if o.contains_key("Fn::Sub") => o["Fn::Sub"]
            .as_str()
            .expect("a plain Fn::Sub string")
            .replace("${", "")
            .replace('}', ""),
        Value::Object(o) if o.contains_key("Ref") => o["Ref"].as_str().unwrap().to_owned(),
        other => panic!("unexpected policy value {other}"),
    }
}

fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(text).collect(),
        single => vec![text(single)],
    }
}

/// One grant of a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    action: String,
    resource: String,
    /// A `dynamodb:LeadingKeys` condition holds it to items keyed `T#…`.
    tenant_keys_only: bool,
}

fn grant(action: &str, resource: &str, tenant_keys_only: bool) -> Grant {
    Grant {
        action: action.to_owned(),
        resource: resource.to_owned(),
        tenant_keys_only,
    }
}

/// The only condition the template uses.
fn tenant_keys_condition() -> Value {
    json!({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["T#*"]}})
}

/// Every statement a role holds: its inline policies and the template's own
/// managed policies it attaches.
fn statements(role: &'static Value) -> Vec<&'static Value> {
    let mut documents: Vec<&Value> = role["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| &p["PolicyDocument"])
        .collect();
    for arn in role["Properties"]["ManagedPolicyArns"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = arn["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{arn}: only this template's own managed policies"));
        let policy = &transformed()["Resources"][name];
        assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy", "{name}");
        documents.push(&policy["Properties"]["PolicyDocument"]);
    }
    documents
        .into_iter()
        .flat_map(|d| d["Statement"].as_array().unwrap())
        .collect()
}

/// Each function's grants (by logical id), from the role it runs with.
fn granted() -> BTreeMap<String, BTreeSet<Grant>> {
    let mut grants = BTreeMap::new();
    for (name, function) in of_type("AWS::Lambda::Function") {
        let role = text(&function["Properties"]["Role"]);
        let role = role
            .strip_suffix(".Arn")
            .unwrap_or_else(|| panic!("{name} runs with a role of this template, not {role}"));
        let mut set = BTreeSet::new();
        for statement in statements(&transformed()["Resources"][role]) {
            assert_eq!(statement["Effect"], "Allow", "{name}: {statement}");
            assert!(
                statement["NotAction"].is_null() && statement["NotResource"].is_null(),
                "{name}: NotAction/NotResource grant everything else"
            );
            let scoped = match &statement["Condition"] {
                Value::Null => false,
                c if *c == tenant_keys_condition() => true,
                other => panic!("{name}: a condition this test does not model: {other}"),
            };
            for action in texts(&statement["Action"]) {
                for resource in texts(&statement["Resource"]) {
                    set.insert(Grant {
                        action: action.clone(),
                        resource,
                        tenant_keys_only: scoped,
                    });
                }
            }
        }
        grants.insert(name.clone(), set);
    }
    grants
}

const TABLE: &str = "CouponTable.Arn";
const GSI1: &str = "CouponTable.Arn/index/GSI1";
const GSI2: &str = "CouponTable.Arn/index/GSI2";
const GSI3: &str = "CouponTable.Arn/index/GSI3";
const EXPORTS: &str = "ExportBucket.Arn/exports/*";
const QUEUE: &str = "DailyExportQueue.Arn";
const WEBHOOK_QUEUE: &str = "WebhookQueue.Arn";
const STREAM_READ: [&str; 3] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
];

/// The wildcards AWS requires, each with its reason in template.yaml.
fn allowed_wildcard(g: &Grant) -> bool {
    match g.resource.as_str() {
        // X-Ray takes no resource-level permissions.
        "*" => matches!(
            g.action.as_str(),
            "xray:PutTraceSegments" | "xray:PutTelemetryRecords"
        ),
        // The table's streams, their label unknown until the stream exists.
        "CouponTable.Arn/stream/*" => g.action == "dynamodb:ListStreams",
        // Objects under exports/.
        EXPORTS => g.action.starts_with("s3:"),
        _ => false,
    }
}

#[test]
fn no_role_has_a_managed_policy_of_aws_or_an_unjustified_wildcard() {
    let roles: Vec<_> = of_type("AWS::IAM::Role").collect();
    let functions: Vec<_> = of_type("AWS::Lambda::Function").collect();
    assert_eq!(
        roles.len(),
        functions.len(),
        "one role per function, all ours: SAM generated none"
    );
    for (name, role) in roles {
        assert_eq!(
            role["Properties"]["AssumeRolePolicyDocument"]["Statement"],
            json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]),
            "{name}: only Lambda assumes it"
        );
        // statements() refuses any managed policy that is not ours.
        statements(role);
    }
    for (function, grants) in granted() {
        for g in grants {
            assert!(!g.action.contains('*'), "{function}: wildcard action {g:?}");
            assert!(
                !g.resource.contains('*') || allowed_wildcard(&g),
                "{function}: {g:?} on a wildcard resource AWS does not require"
            );
        }
    }
}

/// The resource policies of the stack: who may invoke the functions, and
/// the bucket's. None lets anyone else in.
#[test]
fn resource_policies_let_in_only_our_api_and_schedules() {
    let permissions: Vec<_> = of_type("AWS::Lambda::Permission").collect();
    assert!(!permissions.is_empty());
    for (name, permission) in permissions {
        let p = &permission["Properties"];
        assert_eq!(p["Action"], "lambda:InvokeFunction", "{name}");
        let source = serde_json::to_string(&p["SourceArn"]).unwrap();
        match p["Principal"].as_str().unwrap() {
            "apigateway.amazonaws.com" => {
                assert!(source.contains("CouponApi"), "{name}: {source}")
            }
            "events.amazonaws.com" => assert!(source.contains("Fn::GetAtt"), "{name}: {source}"),
            other => panic!("{name}: {other} may invoke a function"),
        }
    }
    for (name, policy) in of_type("AWS::S3::BucketPolicy") {
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
        {
            assert_eq!(
                statement["Effect"], "Deny",
                "{name}: may only narrow access"
            );
        }
    }
    assert_eq!(of_type("AWS::SQS::QueuePolicy").count(), 0);
}

/// What each function's code calls, on what, and whether the call's keys
/// are always a tenant's (so `dynamodb:LeadingKeys` can hold it to `T#…`).
/// Reads of the table by the API functions are not held: authentication
/// reads the token (`TOKEN#…`) and tenant (`TENANT#…`) items. GSI1's
/// partition keys are not the table's, which is all LeadingKeys names.
/// TransactWriteItems has no IAM action: its items are authorised by
/// PutItem / UpdateItem / DeleteItem.
fn needed(function: &str) -> BTreeSet<Grant> {
    let read = |actions: &[&str]| -> Vec<Grant> {
        actions.iter().map(|a| grant(a, TABLE, false)).collect()
    };
    let tenant = |actions: &[&str]| -> Vec<Grant> {
        actions.iter().map(|a| grant(a, TABLE, true)).collect()
    };
    let on = |resource: &str, actions: &[&str]| -> Vec<Grant> {
        actions.iter().map(|a| grant(a, resource, false)).collect()
    };
    let own = match function {
        "PingFunction" | "ConsoleFunction" => vec![],
        // Create (coupons, shards, jobs, keyspace counters, a campaign's
        // code count, the undo of a failed create), details (shards,
        // campaigns), update, delete (a transaction of deletes and the
        // clean-up task), list (GSI1; a campaign's codes, GSI2; a
        // customer's, GSI3), job codes, assign (the pool, GSI3; the code
        // and the assignment record in a transaction).
        "CouponsFunction" => [
            read(&["dynamodb:GetItem", "dynamodb:BatchGetItem"]),
            tenant(&[
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",
            ]),
            on(GSI1, &["dynamodb:Query"]),
            on(GSI2, &["dynamodb:Query"]),
            on(GSI3, &["dynamodb:Query"]),
        ]
        .concat(),
        // A campaign with its shards (BatchGetItem), created, changed and
        // deleted in transactions; the list (GSI1); its codes (GSI2) in a
        // CSV file and its link; an import's input and jobs (PutItem, and
        // transactions with the unfinished-job count).
        "CampaignsFunction" => [
            read(&["dynamodb:GetItem", "dynamodb:BatchGetItem"]),
            tenant(&[
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ]),
            on(GSI1, &["dynamodb:Query"]),
            on(GSI2, &["dynamodb:Query"]),
            on(EXPORTS, &["s3:PutObject", "s3:GetObject"]),
        ]
        .concat(),
        // Validate, consume, reserve, release, rollback; expired holds.
        "ConsumeFunction" => [
            read(&["dynamodb:GetItem", "dynamodb:BatchGetItem"]),
            tenant(&["dynamodb:PutItem", "dynamodb:UpdateItem"]),
            on(GSI1, &["dynamodb:Query"]),
        ]
        .concat(),
        // The limiter's bucket, export records, the log; the export list;
        // the workbook and its links.
        "ExportsFunction" => [
            read(&["dynamodb:GetItem"]),
            tenant(&["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]),
            on(GSI1, &["dynamodb:Query"]),
            on(EXPORTS, &["s3:PutObject", "s3:GetObject"]),
        ]
        .concat(),
        // The log by day (the table), by code (GSI1), customer (GSI2) and
        // campaign (GSI3); a row and its reversal by id, the tenant's first
        // day; the limiter's bucket.
        "RedemptionsFunction" => [
            read(&["dynamodb:GetItem"]),
            tenant(&["dynamodb:UpdateItem", "dynamodb:Query"]),
            on(GSI1, &["dynamodb:Query"]),
            on(GSI2, &["dynamodb:Query"]),
            on(GSI3, &["dynamodb:Query"]),
        ]
        .concat(),
        // The tenants (GSI1), one message each.
        "ExportScheduleFunction" => [
            on(GSI1, &["dynamodb:Query"]),
            on(QUEUE, &["sqs:SendMessage"]),
        ]
        .concat(),
        // A tenant's log and export record, its workbook; the queue, polled
        // by the event source mapping with this role.
        "ExportWorkerFunction" => [
            tenant(&["dynamodb:PutItem", "dynamodb:Query"]),
            on(EXPORTS, &["s3:PutObject"]),
            on(
                QUEUE,
                &[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
            ),
        ]
        .concat(),
        // Jobs, codes, counters and clean-ups, all tenants' items; active
        // jobs and pending clean-ups (GSI1); a campaign's codes to delete
        // (GSI2, joined with their campaign: BatchGetItem); the table's
        // stream.
        "CouponJobsFunction" => [
            tenant(&[
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",
            ]),
            on(GSI1, &["dynamodb:Query"]),
            on(GSI2, &["dynamodb:Query"]),
            on("CouponTable.StreamArn", &STREAM_READ),
            on("CouponTable.Arn/stream/*", &["dynamodb:ListStreams"]),
        ]
        .concat(),
        // Webhooks: the caller's token and tenant, a webhook (GetItem);
        // created and deleted with their count in transactions, rotated,
        // listed with their deliveries; the limiter's bucket.
        "WebhooksFunction" => [
            read(&["dynamodb:GetItem"]),
            tenant(&[
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
            ]),
        ]
        .concat(),
        // The stream; event marks (BatchGetItem, BatchWriteItem; a log
        // row's mark in a transaction with its day's figures, PutItem and
        // UpdateItem), a tenant's webhooks (Query), a high_demand coupon
        // and its shards (GetItem, BatchGetItem); the bus, the webhook
        // queue, and the queue of records it failed on for good.
        "EventsFunction" => [
            tenant(&[
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
            ]),
            on("EventBus.Arn", &["events:PutEvents"]),
            on(WEBHOOK_QUEUE, &["sqs:SendMessage"]),
            on("EventsFailedRecords.Arn", &["sqs:SendMessage"]),
            on("CouponTable.StreamArn", &STREAM_READ),
            on("CouponTable.Arn/stream/*", &["dynamodb:ListStreams"]),
        ]
        .concat(),
        // A webhook (GetItem), its failing and disabled marks (UpdateItem),
        // each attempt (PutItem); the queue, polled by the event source
        // mapping, a failed message's next attempt set by the function.
        "WebhookDeliveriesFunction" => [
            tenant(&[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ]),
            on(
                WEBHOOK_QUEUE,
                &[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
            ),
        ]
        .concat(),
        other => panic!("no expected policy for {other}: add one here"),
    };
    // Every function: its own log group, and X-Ray.
    let log_group = format!("{}LogGroup.Arn", function.trim_end_matches("Function"));
    let common = [
        grant("logs:CreateLogStream", &log_group, false),
        grant("logs:PutLogEvents", &log_group, false),
        grant("xray:PutTraceSegments", "*", false),
        grant("xray:PutTelemetryRecords", "*", false),
    ];
    own.into_iter().chain(common).collect()
}

#[test]
fn each_function_is_granted_exactly_what_its_code_calls() {
    for (function, grants) in granted() {
        let expected = needed(&function);
        let unused: Vec<_> = grants.difference(&expected).collect();
        let missing: Vec<_> = expected.difference(&grants).collect();
        assert!(
            unused.is_empty() && missing.is_empty(),
            "{function}: granted but unused {unused:?}, used but not granted {missing:?}"
        );
    }
}

/// No function can write a tenant or a token: every write to the table is
/// held to tenants' keys, and so is everything the workers touch there.
#[test]
fn table_writes_are_held_to_tenant_keys() {
    let writes = [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ];
    for (function, grants) in granted() {
        let worker = matches!(
            function.as_str(),
            "ExportScheduleFunction"
                | "ExportWorkerFunction"
                | "CouponJobsFunction"
                | "EventsFunction"
                | "WebhookDeliveriesFunction"
        );
        for g in grants.iter().filter(|g| g.resource == TABLE) {
            if worker || writes.contains(&g.action.as_str()) {
                assert!(
                    g.tenant_keys_only,
                    "{function}: {g:?} is not held to T# keys"
                );
            }
        }
    }
}

/// The policy resource an observed call needs: the table or its index.
fn policy_resource(used: &IamUse) -> String {
    match used.resource.as_str() {
        "table" => TABLE.to_owned(),
        index => format!("{TABLE}/{index}"),
    }
}

/// Every DynamoDB call each function makes on a realistic run (through the
/// SDK, batches and transactions item by item, with each item's partition
/// key) is granted to it, conditions included, and the run reaches every
/// DynamoDB grant but the ones named.
#[tokio::test]
async fn every_call_a_function_makes_is_granted_to_it() {
    let (t, counter) = TestApp::counted().await;
    counter.take_actions();
    let a = t.token_a.clone();
    let mut observed: BTreeMap<&str, BTreeSet<IamUse>> = BTreeMap::new();
    let mut record = |function: &'static str| {
        observed
            .entry(function)
            .or_default()
            .extend(counter.take_actions());
    };

    // Coupons: plain, high_demand and bulk creates, details, list, update,
    // delete with per-customer counts and shards, a job and its codes.
    let plain = t
        .create_coupon(json!({"availability_count": 5, "max_uses_per_customer": 2}))
        .await;
    let hot = t
        .create_coupon(json!({"availability_count": 50, "high_demand": true}))
        .await;
    let last = t.create_coupon(json!({"availability_count": 1})).await;
    let job = t
        .send(post("/coupon").token(&a).json(json!({"quantity": 1_001})))
        .await;
    let job = job.expect(202).string("job_id");
    for path in [
        format!("/coupon?code={plain}"),
        format!("/coupon?code={hot}"),
        "/coupon".to_owned(),
        format!("/coupon/jobs/{job}"),
        format!("/coupon/jobs/{job}/codes"),
    ] {
        assert_eq!(t.send(get(&path).token(&a)).await.status, 200, "{path}");
    }
    let updated = t
        .send(
            put(&format!("/coupon/{plain}"))
                .token(&a)
                .json(json!({"availability_count": 6})),
        )
        .await;
    updated.expect(200);
    record("CouponsFunction");

    // Campaigns: create, list, read, change, and (after its codes are
    // gone) delete; its codes are made and listed by the coupons function.
    let made = t
        .send(post("/campaigns").token(&a).json(json!({
            "name": "IAM", "discount_fixed": "1", "currency": "EUR",
            "budget_uses": 100, "budget_amount": "50",
        })))
        .await;
    let campaign = made.expect(201).string("campaign_id");
    for path in ["/campaigns".to_owned(), format!("/campaigns/{campaign}")] {
        assert_eq!(t.send(get(&path).token(&a)).await.status, 200, "{path}");
    }
    let changed = t
        .send(
            put(&format!("/campaigns/{campaign}"))
                .token(&a)
                .json(json!({"budget_uses": 90})),
        )
        .await;
    changed.expect(200);
    // A campaign whose codes are exported (exports, below).
    let made = t
        .send(
            post("/campaigns")
                .token(&a)
                .json(json!({"name": "Printed"})),
        )
        .await;
    let printed = made.expect(201).string("campaign_id");
    record("CampaignsFunction");
    let campaign_code = t
        .create_coupon(json!({"campaign_id": campaign, "availability_count": 3}))
        .await;
    t.create_coupon(json!({"campaign_id": printed})).await;
    let listed = t
        .send(get(&format!("/coupon?campaign_id={campaign}")).token(&a))
        .await;
    listed.expect(200);
    // A pool code of the printed campaign handed to a customer, whose
    // personal codes are then listed.
    let assigned = t
        .send(post("/coupon/assign").token(&a).json(json!({
            "campaign_id": printed, "customer_id": "bob", "source_id": "order-1"
        })))
        .await;
    assigned.expect(201);
    let personal = t.send(get("/coupon?customer_id=bob").token(&a)).await;
    assert_eq!(personal.json()["data"].as_array().unwrap().len(), 1);
    record("CouponsFunction");

    // Consume: validate, consume (plain, sharded and a campaign's code),
    // reserve, show, release, convert a reservation, roll back.
    let mut redemptions = Vec::new();
    for code in [&plain, &hot, &campaign_code] {
        let query = format!("code={code}&customer_id=alice&order_amount=10");
        let checked = t
            .send(get(&format!("/coupon/consume?{query}")).token(&a))
            .await;
        checked.expect(200);
        let consumed = t
            .send(
                post(&format!("/coupon/consume?{query}"))
                    .token(&a)
                    .header("idempotency-key", &format!("k-{code}")),
            )
            .await;
        consumed.expect(200);
        redemptions.push(consumed.string("redemption_id"));
        for convert in [false, true] {
            let held = t
                .send(post(&format!("/coupon/reserve?{query}")).token(&a))
                .await;
            let id = held.expect(201).string("reservation_id");
            let path = format!("/coupon/reserve/{id}");
            assert_eq!(t.send(get(&path).token(&a)).await.status, 200);
            let done = if convert {
                t.send(
                    post(&format!(
                        "/coupon/consume?code={code}&reservation_id={id}&order_amount=10"
                    ))
                    .token(&a),
                )
                .await
            } else {
                t.send(delete(&path).token(&a)).await
            };
            assert!(done.status == 200 || done.status == 204, "{}", done.text());
        }
    }
    // A hold on a last use that expires: the next check finds the coupon
    // exhausted and gives the held use back (GSI1).
    let held = t
        .send(post(&format!("/coupon/reserve?code={last}&ttl_seconds=1")).token(&a))
        .await;
    held.expect(201);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let checked = t
        .send(get(&format!("/coupon/consume?code={last}")).token(&a))
        .await;
    assert_eq!(checked.json()["valid"], true, "{}", checked.text());
    for id in &redemptions {
        let rolled_back = t
            .send(post(&format!("/coupon/consume/{id}/rollback")).token(&a))
            .await;
        rolled_back.expect(200);
    }
    record("ConsumeFunction");

    // The log: by time, code, customer and campaign, and a row with its
    // reversal.
    // Each code: a consume, a converted reservation, a reversal; all alice's.
    for (query, rows) in [
        (String::new(), 9),
        (format!("code={plain}"), 3),
        ("customer_id=alice".to_owned(), 9),
        (format!("campaign_id={campaign}"), 3),
    ] {
        let page = t
            .send(get(&format!("/redemptions?{query}")).token(&a))
            .await;
        let found = page.json()["data"].as_array().unwrap().len();
        assert_eq!(found, rows, "{query}: {}", page.text());
    }
    let entry = t
        .send(get(&format!("/redemptions/{}", redemptions[0])).token(&a))
        .await;
    assert!(entry.json()["reversal"].is_object(), "{}", entry.text());
    t.send(get("/stats").token(&a)).await.expect(200);
    record("RedemptionsFunction");

    // Deleting coupons with customer counts and shards, and a campaign's
    // code (coupons again), then its campaign.
    for code in [&plain, &hot, &campaign_code] {
        let deleted = t.send(delete(&format!("/coupon/{code}")).token(&a)).await;
        deleted.expect(204);
    }
    record("CouponsFunction");
    let deleted = t
        .send(delete(&format!("/campaigns/{campaign}")).token(&a))
        .await;
    deleted.expect(204);
    // Another campaign's codes, as CSV.
    let codes = t
        .send(post(&format!("/campaigns/{printed}/codes-export")).token(&a))
        .await;
    codes.expect(201);
    // Codes imported into it, then all its codes deleted, by jobs.
    let imported = t
        .send(
            post(&format!("/campaigns/{printed}/import"))
                .token(&a)
                .raw("text/csv", "code\nIMPORTED-1\nIMPORTED-2\n"),
        )
        .await;
    imported.expect(202);
    let deleting = t
        .send(delete(&format!("/campaigns/{printed}/codes")).token(&a))
        .await;
    deleting.expect(202);
    record("CampaignsFunction");

    // Exports: one now, the list with its links.
    assert_eq!(crate::exports::export_today(&t).await.status, 201);
    assert_eq!(t.send(get("/exports").token(&a)).await.status, 200);
    record("ExportsFunction");

    // The daily export: the schedule, then the worker for each tenant day.
    let queues = crate::daily_export::Queues::new().await;
    queues.run_schedule(&t, chrono::Utc::now()).await;
    record("ExportScheduleFunction");
    let delivered = queues.deliver(&t.state).await;
    assert_eq!(delivered.failures, 0);
    record("ExportWorkerFunction");

    // The worker: the bulk job, the import, the campaign's codes deleted.
    let event = lambda_runtime::LambdaEvent::new(json!({}), lambda_runtime::Context::default());
    coupon_jobs::handle(&t.app().store, event).await.unwrap();
    record("CouponJobsFunction");

    // Webhooks: two made (one for coupon.exhausted, at a receiver that
    // refuses its first delivery), listed, read, rotated, their
    // deliveries listed, one deleted.
    let receiver = crate::pipeline::Receiver::start();
    receiver.control("/fail/iam/1", "");
    let mut hooks = Vec::new();
    for url in [receiver.url("iam"), receiver.url("other")] {
        let made = t
            .send(
                post("/webhooks")
                    .token(&a)
                    .json(json!({"url": url, "events": ["coupon.exhausted"]})),
            )
            .await;
        hooks.push(made.expect(201).string("id"));
    }
    for path in [
        "/webhooks".to_owned(),
        format!("/webhooks/{}", hooks[0]),
        format!("/webhooks/{}/deliveries", hooks[0]),
    ] {
        assert_eq!(t.send(get(&path).token(&a)).await.status, 200, "{path}");
    }
    let rotated = t
        .send(post(&format!("/webhooks/{}/rotate-secret", hooks[0])).token(&a))
        .await;
    rotated.expect(200);
    let deleted = t
        .send(delete(&format!("/webhooks/{}", hooks[1])).token(&a))
        .await;
    deleted.expect(204);
    record("WebhooksFunction");
    // A high_demand coupon used up (its shards read by the events function).
    let dry = t
        .create_coupon(json!({"availability_count": 1, "high_demand": true}))
        .await;
    let consumed = t
        .send(post(&format!("/coupon/consume?code={dry}")).token(&a))
        .await;
    consumed.expect(200);
    counter.take_actions();
    // The events of this whole run, then their deliveries: refused once,
    // then delivered.
    let mut pipeline = crate::pipeline::Pipeline::new(&t, "0").await;
    counter.take_actions();
    pipeline.pump().await;
    record("EventsFunction");
    pipeline.deliver().await;
    let received = receiver.received("iam");
    assert_eq!(received.len(), 2, "{received:?}");
    record("WebhookDeliveriesFunction");

    let granted = granted();
    // These runs reach every DynamoDB grant of their function but the ones
    // named here (failure paths), so the expected sets above are what the
    // code does, not a guess.
    let not_reached = [
        ("CouponsFunction", "dynamodb:BatchWriteItem"),
        // Its token and tenant are cached from the requests before.
        ("ExportsFunction", "dynamodb:GetItem"),
    ];
    for (function, uses) in &observed {
        let grants = &granted[*function];
        for used in uses {
            let resource = policy_resource(used);
            let allowed = grants.iter().any(|g| {
                g.action == used.action
                    && g.resource == resource
                    && (!g.tenant_keys_only
                        || used
                            .leading_key
                            .as_deref()
                            .is_some_and(|k| k.starts_with("T#")))
            });
            assert!(
                allowed,
                "{function} makes {used:?}, which template.yaml does not grant it"
            );
        }
        let reached: BTreeSet<(String, String)> = uses
            .iter()
            .map(|u| (u.action.clone(), policy_resource(u)))
            .collect();
        let dynamodb: BTreeSet<(String, String)> = needed(function)
            .into_iter()
            .filter(|g| g.action.starts_with("dynamodb:") && g.resource.starts_with(TABLE))
            .filter(|g| !g.resource.contains("stream"))
            .filter(|g| !not_reached.contains(&(*function, g.action.as_str())))
            .map(|g| (g.action, g.resource))
            .collect();
        assert_eq!(reached, dynamodb, "{function}");
    }
    assert_eq!(
        observed.len(),
        13 - 2,
        "every function but ping and the console ran"
    );
}
