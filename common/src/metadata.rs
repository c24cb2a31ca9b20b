//! `metadata`: a client's own key/value pairs on a coupon, a campaign or a
//! consume (its order, CRM or campaign ids), with Stripe's limits, so a
//! shop that tags its Stripe objects can tag ours the same way.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::invalid::Invalid;

pub const MAX_KEYS: usize = 50;
pub const MAX_KEY_CHARS: usize = 40;
pub const MAX_VALUE_CHARS: usize = 500;
/// The request field, as JSON bodies spell it (forms: `metadata[key]`).
pub const FIELD: &str = "metadata";

/// Keys to texts, in key order; empty when none are set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// A request's `metadata`: an object of texts (numbers are read as
    /// text, as every field is). A key whose value is `null` or empty is
    /// left out, so a form's `metadata[key]=` removes that key; `null` for
    /// the whole field is no metadata.
    pub fn parse(value: Value) -> Result<Metadata, Invalid> {
        let fields = match value {
            Value::Null => return Ok(Metadata::default()),
            Value::Object(fields) => fields,
            other => {
                return Err(Invalid(format!(
                    "expected an object of key/value texts, got {other}"
                )));
            }
        };
        let mut pairs = BTreeMap::new();
        for (key, value) in fields {
            let chars = key.chars().count();
            if chars == 0
                || chars > MAX_KEY_CHARS
                || key.contains(['[', ']'])
                || key.chars().any(char::is_control)
            {
                return Err(Invalid(format!(
                    "key {key:?}: keys are 1 to {MAX_KEY_CHARS} printable characters, \
                     without [ or ]"
                )));
            }
            let text = match value {
                Value::Null => continue,
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                other => {
                    return Err(Invalid(format!(
                        "key {key:?}: values are texts, got {other}"
                    )));
                }
            };
            if text.is_empty() {
                continue;
            }
            if text.chars().count() > MAX_VALUE_CHARS {
                return Err(Invalid(format!(
                    "key {key:?}: values are at most {MAX_VALUE_CHARS} characters"
                )));
            }
            pairs.insert(key, text);
        }
        if pairs.len() > MAX_KEYS {
            return Err(Invalid(format!(
                "at most {MAX_KEYS} keys, got {}",
                pairs.len()
            )));
        }
        Ok(Metadata(pairs))
    }

    /// Pairs as stored: trusted, not checked again.
    pub fn from_stored(pairs: impl IntoIterator<Item = (String, String)>) -> Metadata {
        Metadata(pairs.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// The pairs as one JSON object, for a spreadsheet cell.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn texts_and_numbers_are_kept_and_empty_values_dropped() {
        let metadata =
            Metadata::parse(json!({"order": "A-1", "n": 42, "gone": "", "unset": null})).unwrap();
        assert_eq!(metadata.to_json(), r#"{"n":"42","order":"A-1"}"#);
        assert!(Metadata::parse(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn stripes_limits_hold() {
        let key = "k".repeat(MAX_KEY_CHARS);
        let value = "v".repeat(MAX_VALUE_CHARS);
        assert!(Metadata::parse(json!({ key.clone(): value.clone() })).is_ok());
        let refused = [
            json!({ format!("{key}k"): "v" }),
            json!({ "k": format!("{value}v") }),
            json!({ "a[b]": "v" }),
            json!({ "": "v" }),
            json!({ "k": true }),
            json!({ "k": {"nested": "v"} }),
            json!(["k", "v"]),
            json!("k=v"),
            Value::Object(
                (0..=MAX_KEYS)
                    .map(|i| (format!("k{i}"), json!("v")))
                    .collect(),
            ),
        ];
        for value in refused {
            assert!(Metadata::parse(value.clone()).is_err(), "{value}");
        }
        let fifty = Value::Object(
            (0..MAX_KEYS)
                .map(|i| (format!("k{i}"), json!("v")))
                .collect(),
        );
        assert_eq!(Metadata::parse(fifty).unwrap().iter().count(), MAX_KEYS);
    }
}
