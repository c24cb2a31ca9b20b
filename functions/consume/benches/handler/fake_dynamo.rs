//! DynamoDB answered at the HTTP layer, for the handler benchmark.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

use crate::RATE;

/// DynamoDB answered in-process: `PutItem`s are kept by key, `GetItem`s
/// answer them, the limiter's `UpdateItem` takes a token, transactions
/// commit. Anything else is a 400, so a changed request path shows.
#[derive(Clone, Debug, Default)]
pub struct FakeDynamo {
    /// `PK` and `SK` -> the `GetItem` response body.
    items: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl FakeDynamo {
    fn answer(&self, request: &HttpRequest) -> (u16, String) {
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let body = std::str::from_utf8(request.body().bytes().unwrap_or_default()).unwrap_or("");
        match target.strip_prefix("DynamoDB_20120810.").unwrap_or(target) {
            "GetItem" => {
                let key = (
                    string_after(body, r#""PK":{"S":""#),
                    string_after(body, r#""SK":{"S":""#),
                );
                let items = self.items.lock().unwrap();
                let found = items.get(&(key.0.to_owned(), key.1.to_owned()));
                (200, found.cloned().unwrap_or_else(|| "{}".to_owned()))
            }
            "PutItem" => {
                let request: Value = serde_json::from_str(body).expect("PutItem JSON");
                let item = &request["Item"];
                let key = |name: &str| item[name]["S"].as_str().unwrap_or_default().to_owned();
                let response = json!({ "Item": item }).to_string();
                self.items
                    .lock()
                    .unwrap()
                    .insert((key("PK"), key("SK")), response);
                (200, "{}".to_owned())
            }
            // The GCRA step: the bucket's new theoretical arrival time, as
            // `ReturnValues: UPDATED_NEW` gives it.
            "UpdateItem" if body.contains("SET tat = ") => {
                let tat = chrono::Utc::now().timestamp_micros() + 1_000_000 / i64::from(RATE);
                let ttl = tat / 1_000_000 + 86_400;
                (
                    200,
                    format!(
                        r#"{{"Attributes":{{"expires_ttl":{{"N":"{ttl}"}},"tat":{{"N":"{tat}"}}}}}}"#
                    ),
                )
            }
            "TransactWriteItems" => (200, "{}".to_owned()),
            other => (
                400,
                format!(
                    r#"{{"__type":"com.amazon.coral.validate#ValidationException","message":"the benchmark's fake does not answer {other}"}}"#
                ),
            ),
        }
    }
}

/// The JSON string value following `marker` (keys and values here have no
/// escapes).
fn string_after<'a>(body: &'a str, marker: &str) -> &'a str {
    body.find(marker)
        .map(|at| &body[at + marker.len()..])
        .and_then(|rest| rest.split_once('"'))
        .map_or("", |(value, _)| value)
}

impl HttpConnector for FakeDynamo {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (status, body) = self.answer(&request);
        let mut response = HttpResponse::new(
            StatusCode::try_from(status).expect("a status code"),
            SdkBody::from(body),
        );
        let headers = response.headers_mut();
        headers.insert("content-type", "application/x-amz-json-1.0");
        headers.insert(
            "x-amzn-requestid",
            "BENCH0000000000000000000000000000000000000000000000000",
        );
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for FakeDynamo {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.clone().into_shared()
    }
}
