//! `template.yaml` and the local stack describe the same service: the table
//! the tests and `make dev` create has the template's keys, and `make dev`'s
//! router sends every deployed route to the same function.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_dynamodb::types::KeySchemaElement;
use common::routes;
use serde_yaml_ng::Value;

use crate::api_gateway::GatewayRoute;
use crate::helpers::TestApp;

pub fn repo_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)).unwrap()
}

pub fn template() -> Value {
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
    // The stream the job worker and the events function read.
    let stream = described.stream_specification().expect("a stream");
    assert!(stream.stream_enabled());
    assert_eq!(
        stream.stream_view_type().map(|v| v.as_str()),
        table["StreamSpecification"]["StreamViewType"].as_str()
    );
}

/// Loopback webhook URLs are for a local stack only: nothing deployed
/// allows them.
#[test]
fn no_deployed_function_may_deliver_webhooks_to_loopback() {
    let text = repo_file("template.yaml");
    assert!(
        !text.contains("WEBHOOK_ALLOW_LOOPBACK"),
        "template.yaml sets WEBHOOK_ALLOW_LOOPBACK"
    );
    assert!(repo_file("scripts/dev.sh").contains("WEBHOOK_ALLOW_LOOPBACK=true"));
}

#[test]
fn make_dev_routes_every_deployed_route_to_the_same_function() {
    let cargo: toml::Table = repo_file("Cargo.toml").parse().unwrap();
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();

    let mut deployed = BTreeSet::new();
    for route in deployed_routes() {
        // The local router spells path parameters as the template does.
        for local in [route.path.clone(), format!("{}/", route.path)] {
            assert_eq!(
                router.get(&local).and_then(|f| f.as_str()),
                Some(route.binary.as_str()),
                "make dev must send {local} to {}",
                route.binary
            );
        }
        deployed.insert(route.path);
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

/// The routes of the route table that template.yaml deploys (not the
/// greedy and `$default` routes, tests/api/api_gateway.rs).
fn deployed_routes() -> Vec<GatewayRoute> {
    crate::api_gateway::deployed()
        .iter()
        .filter(|r| r.in_route_table())
        .cloned()
        .collect()
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
    let deployed = deployed_routes()
        .into_iter()
        .map(|r| (r.method, r.path, r.binary))
        .collect();
    assert_eq!(declared, deployed);
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
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(documented, deployed);
}
