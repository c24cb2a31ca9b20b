//! Reading request bodies and query strings into typed, validated values.
//!
//! JSON, `application/x-www-form-urlencoded` and `multipart/form-data` bodies
//! all become one JSON object first (form values as strings), so each route
//! declares its fields once, as a struct with `deny_unknown_fields`.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Body, Request, RequestExt};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::invalid::Invalid;
use crate::metadata::{self, Metadata};

/// Bodies above this size are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub type Fields = Map<String, Value>;

/// The body's bytes, refused with 413 above `limit`.
pub fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(bytes)
}

/// The body's media type, lower case, without parameters; JSON when the
/// request names none.
pub fn media_type(req: &Request) -> String {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    match mime {
        "" => "application/json".to_owned(),
        mime => mime.to_ascii_lowercase(),
    }
}

/// The body's fields. An empty body is an empty object.
pub async fn body_fields(req: &Request) -> Result<Fields, ApiError> {
    let bytes = body_bytes(req, MAX_BODY_BYTES)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::new());
    }
    match media_type(req).as_str() {
        "application/json" => json_fields(bytes),
        "application/x-www-form-urlencoded" => form_fields(bytes),
        "multipart/form-data" => {
            let content_type = req
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            multipart_fields(content_type, bytes.to_vec()).await
        }
        other => Err(ApiError::Malformed(format!(
            "unsupported content type {other:?}; send application/json, \
             application/x-www-form-urlencoded or multipart/form-data"
        ))),
    }
}

fn json_fields(bytes: &[u8]) -> Result<Fields, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::Malformed(
            "the JSON body must be an object".into(),
        )),
        Err(e) => Err(ApiError::Malformed(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

fn form_fields(bytes: &[u8]) -> Result<Fields, ApiError> {
    // The decoder would put U+FFFD in place of such bytes and go on.
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::Malformed("the form body is not UTF-8".into()));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::Malformed(format!("the form body is malformed: {e}")))?;
    collect_form_pairs(pairs)
}

async fn multipart_fields(content_type: &str, bytes: Vec<u8>) -> Result<Fields, ApiError> {
    let malformed =
        |e: multer::Error| ApiError::Malformed(format!("the multipart body is malformed: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            return Err(ApiError::Invalid(format!(
                "field {name:?}: file uploads are not accepted"
            )));
        }
        pairs.push((name, field.text().await.map_err(malformed)?));
    }
    collect_form_pairs(pairs)
}

/// Form values are strings; an empty value means "no value" (null).
fn collect_form_pairs(pairs: Vec<(String, String)>) -> Result<Fields, ApiError> {
    let mut fields = Fields::new();
    for (name, value) in pairs {
        let value = if value.is_empty() {
            Value::Null
        } else {
            Value::String(value)
        };
        insert_field(&mut fields, name, value)?;
    }
    Ok(fields)
}

/// Adds one form or query field. A name `field[key]` (as Stripe's forms
/// send `metadata[order_id]=...`) is the key `key` of the object `field`.
fn insert_field(fields: &mut Fields, name: String, value: Value) -> Result<(), ApiError> {
    let nested = name
        .strip_suffix(']')
        .and_then(|n| n.split_once('['))
        .filter(|(field, key)| !field.is_empty() && !key.contains(['[', ']']));
    let given_twice = || ApiError::Invalid(format!("field {name:?} is given more than once"));
    match nested {
        Some((field, key)) => {
            let object = fields
                .entry(field.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(object) = object else {
                return Err(ApiError::Invalid(format!(
                    "field {field:?} is given both as a value and as {field}[key]"
                )));
            };
            if object.insert(key.to_owned(), value).is_some() {
                return Err(given_twice());
            }
        }
        None => {
            if fields.contains_key(&name) {
                return Err(given_twice());
            }
            fields.insert(name, value);
        }
    }
    Ok(())
}

/// The query string as fields (strings), each name at most once.
pub fn query_fields(req: &Request) -> Result<Fields, ApiError> {
    let query = req.query_string_parameters();
    let mut fields = Fields::new();
    for (name, _) in query.iter() {
        let values = query.all(name).unwrap_or_default();
        if values.len() > 1 {
            return Err(ApiError::Invalid(format!(
                "query parameter {name:?} is given more than once"
            )));
        }
        insert_field(
            &mut fields,
            name.to_owned(),
            Value::String(values[0].to_owned()),
        )?;
    }
    Ok(fields)
}

/// Query and body together; a name in both must carry the same value.
pub fn merge(mut query: Fields, body: Fields) -> Result<Fields, ApiError> {
    for (name, value) in body {
        match query.get(&name) {
            Some(existing) if existing != &value => {
                return Err(ApiError::Invalid(format!(
                    "{name:?} differs between the query string and the body"
                )));
            }
            _ => {
                query.insert(name, value);
            }
        }
    }
    Ok(query)
}

/// Takes `metadata` out of a request's fields: `None` when the request
/// leaves it out. An error names the field.
pub fn take_metadata(fields: &mut Fields) -> Result<Option<Metadata>, ApiError> {
    fields
        .remove(metadata::FIELD)
        .map(|value| {
            Metadata::parse(value)
                .map_err(|e| ApiError::Invalid(format!("{}: {e}", metadata::FIELD)))
        })
        .transpose()
}

/// Items a list page holds unless `limit` says otherwise, and at most.
pub const DEFAULT_PAGE_LIMIT: u64 = 25;
pub const MAX_PAGE_LIMIT: u64 = 100;

/// The query of a list that pages: `limit` and the `cursor` a page gave.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default, deserialize_with = "lenient::opt_number")]
    pub limit: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pub cursor: Option<String>,
}

/// A list's `limit`: 1 to 100, 25 when not given.
pub fn page_limit(limit: Option<u64>) -> Result<u32, Invalid> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(Invalid(format!("limit must be 1 to {MAX_PAGE_LIMIT}")));
    }
    Ok(limit as u32)
}

/// Turns fields into a route's request type; errors name the field.
pub fn decode<T: DeserializeOwned>(fields: Fields) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::Invalid(inner.to_string())
        } else {
            ApiError::Invalid(format!("{path}: {inner}"))
        }
    })
}

/// Field types that accept both JSON values and the strings forms send.
pub mod lenient {
    use super::*;

    /// A whole number, from `5` or `"5"`.
    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| D::Error::custom(format!("expected a whole number >= 0, got {n}"))),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| D::Error::custom(format!("expected a whole number >= 0, got {s:?}"))),
            other => Err(D::Error::custom(format!(
                "expected a whole number, got {other}"
            ))),
        }
    }

    pub fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        nullable(d, number)
    }

    /// `true`/`false`, also as strings.
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(D::Error::custom(format!(
                "expected true or false, got {other}"
            ))),
        }
    }

    pub fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        nullable(d, flag)
    }

    /// Text: a string, or a number written as text (`"apple123"`, `42`).
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(s),
            // A JSON number's shortest round-trip form, so `20.05` stays "20.05".
            Value::Number(n) => Ok(n.to_string()),
            other => Err(D::Error::custom(format!("expected a string, got {other}"))),
        }
    }

    pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        nullable(d, text)
    }

    /// For updates: absent is `None`, `null` is `Some(None)` (clear the value).
    pub fn patch_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        nullable(d, text).map(Some)
    }

    /// A whole number, or `null` to clear it (see `patch_text`).
    pub fn patch_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
        nullable(d, number).map(Some)
    }

    /// A list of texts, from a JSON array or (as forms send it) one text
    /// of comma-separated items; `null` clears it (see `patch_text`).
    pub fn patch_list<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<Vec<String>>>, D::Error> {
        nullable(d, |value| match value {
            Value::Array(items) => items.into_iter().map(text).collect(),
            Value::String(s) => Ok(s.split(',').map(str::to_owned).collect()),
            other => Err(serde_json::Error::custom(format!(
                "expected a list of strings, got {other}"
            ))),
        })
        .map(Some)
    }

    fn nullable<'de, D, T>(
        d: D,
        inner: fn(serde_json::Value) -> Result<T, serde_json::Error>,
    ) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
    {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            value => inner(value).map(Some).map_err(D::Error::custom),
        }
    }
}

/// The request's path as the client sent it. The raw path never carries an
/// API Gateway stage prefix.
pub fn raw_path(req: &Request) -> &str {
    match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use lambda_http::http;
    use proptest::prelude::*;

    use super::*;

    fn request(content_type: Option<&str>, body: Vec<u8>) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/coupon");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(Body::Binary(body)).unwrap()
    }

    fn fields_of(content_type: Option<&str>, body: Vec<u8>) -> Result<Fields, ApiError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(body_fields(&request(content_type, body)))
    }

    /// Bad bodies are client errors, never anything a server answers 5xx for.
    fn is_client_error(e: &ApiError) -> bool {
        matches!(
            e,
            ApiError::Malformed(_) | ApiError::Invalid(_) | ApiError::PayloadTooLarge { .. }
        )
    }

    const CONTENT_TYPES: [Option<&str>; 6] = [
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=XyZ"),
        Some("multipart/form-data"),
        Some("text/plain"),
    ];

    fn multipart(fields: &BTreeMap<String, String>) -> Vec<u8> {
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str("--XyZ--\r\n");
        body.into_bytes()
    }

    proptest! {
        #[test]
        fn any_body_is_fields_or_a_client_error(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            kind in 0..CONTENT_TYPES.len(),
        ) {
            if let Err(e) = fields_of(CONTENT_TYPES[kind], body) {
                prop_assert!(is_client_error(&e), "{e:?}");
            }
        }

        #[test]
        fn json_form_and_multipart_bodies_decode_alike(
            fields in proptest::collection::btree_map("[a-z_]{1,12}", "[ -~]{1,24}", 0..8),
        ) {
            let expected: Fields = fields
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let json = serde_json::to_vec(&expected).unwrap();
            let form = serde_urlencoded::to_string(&fields).unwrap().into_bytes();
            prop_assert_eq!(&fields_of(Some("application/json"), json).unwrap(), &expected);
            prop_assert_eq!(
                &fields_of(Some("application/x-www-form-urlencoded"), form).unwrap(),
                &expected
            );
            // Multipart values are the text between the part's headers and
            // its boundary; these values never contain a CR or LF.
            prop_assert_eq!(
                &fields_of(Some("multipart/form-data; boundary=XyZ"), multipart(&fields)).unwrap(),
                &expected
            );
        }

        #[test]
        fn lenient_numbers_read_json_numbers_and_form_strings_alike(n in 0u64..u64::MAX / 2) {
            #[derive(Deserialize, Debug, PartialEq)]
            struct Counted {
                #[serde(deserialize_with = "lenient::number")]
                count: u64,
            }
            let as_number: Fields = [("count".to_owned(), Value::from(n))].into_iter().collect();
            let as_text: Fields =
                [("count".to_owned(), Value::String(n.to_string()))].into_iter().collect();
            prop_assert_eq!(decode::<Counted>(as_number).unwrap(), Counted { count: n });
            prop_assert_eq!(decode::<Counted>(as_text).unwrap(), Counted { count: n });
        }
    }

    #[test]
    fn a_metadata_error_names_the_field() {
        let mut fields = Fields::new();
        fields.insert("metadata".into(), serde_json::json!({"k": ["v"]}));
        let e = take_metadata(&mut fields).unwrap_err();
        assert!(e.to_string().contains("metadata: key \"k\""), "{e}");
        assert!(fields.is_empty());
    }

    #[test]
    fn a_body_over_the_limit_is_refused_before_parsing() {
        let e = fields_of(Some("application/json"), vec![b' '; MAX_BODY_BYTES + 1]).unwrap_err();
        assert!(matches!(e, ApiError::PayloadTooLarge { .. }), "{e:?}");
    }
}
