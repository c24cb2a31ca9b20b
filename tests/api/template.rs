//! `template.yaml` and the local stack describe the same service: the table
//! the tests and `make dev` create has the template's keys, and `make dev`'s
//! router sends every deployed route to the same function.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_dynamodb::types::KeySchemaElement;
use common::routes;
use serde_yaml_ng::Value;

use crate::helpers::TestApp;

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)).unwrap()
}

fn template() -> Value {
    serde_yaml_ng::from_str(&repo_file("template.yaml")).expect("template.yaml parses")
}

/// `[(attribute, key type)]` from a CloudFormation `KeySchema` list.
fn key_schema(value: &Value) -> Vec<(String, String)> {
    value
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap().to_owned(),
                k["KeyType"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn described_keys(keys: &[KeySchemaElement]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_created_table_has_the_templates_keys() {
    let t = TestApp::new().await;
    let table = &template()["Resources"]["CouponTable"]["Properties"];
    let described = t
        .client
        .describe_table()
        .table_name(&t.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();

    assert_eq!(
        described_keys(described.key_schema()),
        key_schema(&table["KeySchema"])
    );

    let declared_indexes = table["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(
        declared_indexes.len(),
        described.global_secondary_indexes().len()
    );
    for declared in declared_indexes {
        let name = declared["IndexName"].as_str().unwrap();
        let index = described
            .global_secondary_indexes()
            .iter()
            .find(|i| i.index_name() == Some(name))
            .unwrap_or_else(|| panic!("index {name} missing"));
        assert_eq!(
            described_keys(index.key_schema()),
            key_schema(&declared["KeySchema"]),
            "{name}"
        );
        assert_eq!(
            index
                .projection()
                .and_then(|p| p.projection_type())
                .map(|p| p.as_str()),
            declared["Projection"]["ProjectionType"].as_str()
        );
    }
}

#[test]
fn make_dev_routes_every_deployed_route_to_the_same_function() {
    let cargo: toml::Table = repo_file("Cargo.toml").parse().unwrap();
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();

    let mut deployed = BTreeSet::new();
    for resource in template()["Resources"].as_mapping().unwrap().values() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        for (_, event) in resource["Properties"]["Events"].as_mapping().unwrap() {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let path = event["Properties"]["Path"].as_str().unwrap();
            deployed.insert(path.to_owned());
            // The local router spells path parameters as the template does.
            for local in [path.to_owned(), format!("{path}/")] {
                assert_eq!(
                    router.get(&local).and_then(|f| f.as_str()),
                    Some(binary),
                    "make dev must send {local} to {binary}"
                );
            }
        }
    }
    let local: BTreeSet<String> = router
        .keys()
        .map(|p| p.trim_end_matches('/').to_owned())
        .collect();
    assert_eq!(
        local, deployed,
        "make dev serves exactly the deployed paths"
    );
}

/// The routes template.yaml deploys: (method, path, binary).
fn deployed_routes() -> BTreeSet<(String, String, String)> {
    let mut deployed = BTreeSet::new();
    for resource in template()["Resources"].as_mapping().unwrap().values() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        for event in events
            .values()
            .filter(|e| e["Type"].as_str() == Some("HttpApi"))
        {
            let properties = &event["Properties"];
            deployed.insert((
                properties["Method"].as_str().unwrap().to_uppercase(),
                properties["Path"].as_str().unwrap().to_owned(),
                binary.to_owned(),
            ));
        }
    }
    deployed
}

#[test]
fn the_route_table_is_what_template_yaml_deploys() {
    let declared: BTreeSet<(String, String, String)> = routes::ROUTES
        .iter()
        .flat_map(|spec| {
            // HEAD /ping is answered by the GET route in API Gateway.
            spec.methods().filter(|m| *m != "HEAD").map(|method| {
                (
                    method.to_owned(),
                    spec.path.to_owned(),
                    spec.function.binary().to_owned(),
                )
            })
        })
        .collect();
    assert_eq!(declared, deployed_routes());
}

#[test]
fn openapi_describes_exactly_the_deployed_routes() {
    let openapi: Value =
        serde_yaml_ng::from_str(&repo_file("openapi.yaml")).expect("openapi.yaml parses");
    assert_eq!(openapi["openapi"].as_str(), Some("3.1.0"));
    let mut documented = BTreeSet::new();
    for (path, item) in openapi["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method != "parameters" {
                documented.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    let deployed: BTreeSet<(String, String)> = deployed_routes()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    assert_eq!(documented, deployed);
}

/// A policy resource as text: `!GetAtt CouponTable.Arn` → `CouponTable.Arn`,
/// `!Sub "${CouponTable.Arn}/index/GSI1"` → `CouponTable.Arn/index/GSI1`.
fn resource_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(tagged) => resource_text(&tagged.value)
            .replace("${", "")
            .replace('}', ""),
        other => panic!("unexpected policy resource {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(resource_text).collect(),
        single => vec![resource_text(single)],
    }
}

/// Each function's `(action, resource)` grants, from its inline policies.
fn granted() -> std::collections::BTreeMap<String, BTreeSet<(String, String)>> {
    let mut grants = std::collections::BTreeMap::new();
    for (name, resource) in template()["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap().to_owned();
        let mut set = BTreeSet::new();
        if let Some(policies) = resource["Properties"]["Policies"].as_sequence() {
            for policy in policies {
                // Only inline documents: a SAM policy template or managed
                // policy (e.g. DynamoDBCrudPolicy) would grant unlisted actions.
                let statements = policy["Statement"].as_sequence().unwrap_or_else(|| {
                    panic!("{name}: only inline policy documents, got {policy:?}")
                });
                for statement in statements {
                    assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{name}");
                    assert!(
                        statement["NotAction"].is_null() && statement["NotResource"].is_null(),
                        "{name}: NotAction/NotResource grant everything else"
                    );
                    for action in strings(&statement["Action"]) {
                        for resource in strings(&statement["Resource"]) {
                            set.insert((action.clone(), resource));
                        }
                    }
                }
            }
        }
        grants.insert(name, set);
    }
    grants
}

const TABLE: &str = "CouponTable.Arn";
const GSI1: &str = "CouponTable.Arn/index/GSI1";
const EXPORTS: &str = "ExportBucket.Arn/exports/*";

#[test]
fn no_policy_grants_a_wildcard() {
    for (function, grants) in granted() {
        for (action, resource) in grants {
            assert!(
                !action.contains('*'),
                "{function} is granted the wildcard action {action}"
            );
            // The one wildcard allowed is the object prefix exports/.
            assert!(
                !resource.contains('*') || resource == EXPORTS,
                "{function} is granted {action} on the wildcard resource {resource}"
            );
        }
    }
    // Every other policy document in the template only denies.
    for (name, resource) in template()["Resources"].as_mapping().unwrap() {
        let document = &resource["Properties"]["PolicyDocument"];
        for statement in document["Statement"].as_sequence().into_iter().flatten() {
            assert_eq!(
                statement["Effect"].as_str(),
                Some("Deny"),
                "{name:?}: a resource policy may only narrow access"
            );
        }
    }
}

/// What each function's code can call (common/src/store, functions/*/src).
/// TransactWriteItems has no IAM action: its items are authorised by
/// PutItem / UpdateItem (the only kinds the code puts in a transaction).
fn needed(function: &str) -> BTreeSet<(String, String)> {
    let on = |resource: &str, actions: &[&str]| -> Vec<(String, String)> {
        actions
            .iter()
            .map(|a| (a.to_string(), resource.to_owned()))
            .collect()
    };
    let grants: Vec<(String, String)> = match function {
        "PingFunction" => vec![],
        // Auth: token and tenant GetItem; the rate-limit bucket UpdateItem.
        // Create: coupons and high_demand shards (PutItem, a transaction of
        // Puts), jobs with the unfinished-job count (a transaction of a Put
        // and an Update), keyspace counters (UpdateItem), the undo of a
        // failed create (BatchWriteItem); details reads shards
        // (BatchGetItem); update (UpdateItem); delete (GetItem, then a
        // transaction of Deletes and the clean-up task's Put); list (Query
        // GSI1); job codes (Query).
        "CouponsFunction" => [
            on(
                TABLE,
                &[
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:Query",
                ],
            ),
            on(GSI1, &["dynamodb:Query"]),
        ]
        .concat(),
        // Validate, consume, reserve, release, rollback: GetItem (auth,
        // coupon, customer uses, redemption, reservation), BatchGetItem
        // (shards), transactions of Update and Put, the bucket UpdateItem,
        // expired holds through GSI1.
        "ConsumeFunction" => [
            on(
                TABLE,
                &[
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
            ),
            on(GSI1, &["dynamodb:Query"]),
        ]
        .concat(),
        // Auth and bucket; the export record (PutItem); the log (Query);
        // the export list (Query GSI1); the workbook and its links.
        "ExportsFunction" => [
            on(
                TABLE,
                &[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:Query",
                ],
            ),
            on(GSI1, &["dynamodb:Query"]),
            on(EXPORTS, &["s3:PutObject", "s3:GetObject"]),
        ]
        .concat(),
        // Tenants (Query GSI1), the log (Query), the record, the workbook.
        "ExportScheduleFunction" => [
            on(TABLE, &["dynamodb:PutItem", "dynamodb:Query"]),
            on(GSI1, &["dynamodb:Query"]),
            on(EXPORTS, &["s3:PutObject"]),
        ]
        .concat(),
        // Active jobs (Query GSI1), claim/release/fail, keyspace and the
        // unfinished-job count (UpdateItem), codes and batch listings
        // (PutItem), a taken code (GetItem), an unfinished batch removed
        // (BatchWriteItem). A deleted coupon's leftovers: pending clean-ups
        // and held reservations (Query GSI1), customer counts (Query,
        // BatchWriteItem), releases (UpdateItem), the task (DeleteItem).
        "CouponJobsFunction" => [
            on(
                TABLE,
                &[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:Query",
                ],
            ),
            on(GSI1, &["dynamodb:Query"]),
        ]
        .concat(),
        other => panic!("no expected policy for {other}: add one here"),
    };
    grants.into_iter().collect()
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

/// The policy resource an observed `(action, table|index/…)` needs.
fn as_granted((action, resource): (String, String)) -> (String, String) {
    let resource = match resource.as_str() {
        "table" => TABLE.to_owned(),
        index => format!("{TABLE}/{index}"),
    };
    (action, resource)
}

/// Every DynamoDB call each function makes on a realistic run (through the
/// SDK, transactions item by item) is granted to it by the template.
#[tokio::test]
async fn every_call_a_function_makes_is_granted_to_it() {
    use crate::helpers::{delete, get, post, put};
    use serde_json::json;

    let (t, counter) = TestApp::counted().await;
    counter.take_actions();
    let a = t.token_a.clone();
    let mut observed: std::collections::BTreeMap<&str, BTreeSet<(String, String)>> =
        Default::default();
    let mut record = |function: &'static str| {
        observed
            .entry(function)
            .or_default()
            .extend(counter.take_actions().into_iter().map(as_granted));
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

    // Consume: validate, consume (plain and sharded), reserve, show,
    // release, convert a reservation, roll back.
    let mut redemptions = Vec::new();
    for code in [&plain, &hot] {
        let query = format!("code={code}&customer_id=alice");
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
                t.send(post(&format!("/coupon/consume?code={code}&reservation_id={id}")).token(&a))
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

    // Deleting coupons with customer counts and shards (coupons again).
    for code in [&plain, &hot] {
        let deleted = t.send(delete(&format!("/coupon/{code}")).token(&a)).await;
        deleted.expect(204);
    }
    record("CouponsFunction");

    // Exports: one now, the list with its links.
    assert_eq!(crate::exports::export_today(&t).await.status, 201);
    assert_eq!(t.send(get("/exports").token(&a)).await.status, 200);
    record("ExportsFunction");

    // The daily export.
    let event: aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> =
        serde_json::from_value(
            json!({"source": "aws.events", "detail-type": "Scheduled Event",
            "time": chrono::Utc::now().to_rfc3339(), "detail": {}}),
        )
        .unwrap();
    let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
    export_schedule::handle(&t.state, event).await.unwrap();
    record("ExportScheduleFunction");

    // The bulk job's worker.
    let event = lambda_runtime::LambdaEvent::new(json!({}), lambda_runtime::Context::default());
    coupon_jobs::handle(&t.app().store, event).await.unwrap();
    record("CouponJobsFunction");

    let granted = granted();
    // These runs reach every DynamoDB call of their function but the ones
    // named here (failure paths), so the expected sets above are what the
    // code does, not a guess.
    let not_reached = [
        ("CouponsFunction", "dynamodb:BatchWriteItem"),
        ("CouponJobsFunction", "dynamodb:GetItem"),
    ];
    for function in [
        "CouponsFunction",
        "ConsumeFunction",
        "ExportScheduleFunction",
        "CouponJobsFunction",
    ] {
        let dynamodb: BTreeSet<_> = needed(function)
            .into_iter()
            .filter(|(action, _)| action.starts_with("dynamodb:"))
            .filter(|(action, _)| !not_reached.contains(&(function, action.as_str())))
            .collect();
        assert_eq!(observed[function], dynamodb, "{function}");
    }
    for (function, calls) in observed {
        let not_granted: Vec<_> = calls.difference(&granted[function]).collect();
        assert!(
            not_granted.is_empty(),
            "{function} calls {not_granted:?}, which template.yaml does not grant it"
        );
    }
}
