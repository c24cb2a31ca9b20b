//! `POST /campaigns/{campaign_id}/import`: codes that exist in another
//! system brought into a campaign. The body lists them as JSON (a list of
//! codes, or of `{"code", "availability_count"}` objects, bare or under
//! `codes`) or as `text/csv` (one code per line, optionally with its
//! `availability_count` after a comma; an optional header line names the
//! columns). Every code is checked like a custom code before anything is
//! written; the job writes them and reports the ones that exist already,
//! which it never overwrites.

use std::collections::HashMap;

use common::campaign::CampaignId;
use common::campaign_codes;
use common::code::CouponCode;
use common::coupon::{Coupon, MAX_AVAILABILITY};
use common::http::job_accepted;
use common::job::{Job, ListedCode, MAX_IMPORT_CODES};
use common::request::{self, lenient};
use common::store::JobStore;
use common::tenant::TenantId;
use common::{ApiError, App};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// Room for 100,000 codes of up to 40 characters with their uses. Lambda
/// takes at most 6 MB a request, and a binary body arrives base64-encoded
/// (4 MiB become 5.6 MB).
pub const MAX_IMPORT_BODY_BYTES: usize = 4 * 1024 * 1024;

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    id: &CampaignId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body = request::body_bytes(req, MAX_IMPORT_BODY_BYTES)?;
    let entries = match request::media_type(req).as_str() {
        "text/csv" | "text/plain" => csv_entries(body)?,
        "application/json" => json_entries(body)?,
        other => {
            return Err(ApiError::Malformed(format!(
                "unsupported content type {other:?}; send application/json or text/csv"
            )));
        }
    };
    let listed = checked(entries)?;
    let now = app.clock.now();
    let template = Coupon::campaign_code(listed[0].code.clone(), id.clone(), 1, now);
    let job = Job::import(listed.len() as u64, template, now);
    // The input first: until the job exists it is nobody's, and TTL removes it.
    app.store
        .put_job_input(tenant, &job.job_id, &listed, now)
        .await?;
    campaign_codes::counted_into(app, tenant, id, job.quantity, |_| async {
        app.store
            .insert_job(tenant, &job, app.max_unfinished_jobs)
            .await?;
        Ok(job_accepted(&job))
    })
    .await
}

/// One listed code as the body spells it, with where it stands (a line of
/// CSV, an index of JSON) for error messages.
struct Entry {
    at: String,
    code: String,
    uses: Option<u64>,
}

/// Each code parsed like a custom code, its uses in range, none twice.
fn checked(entries: Vec<Entry>) -> Result<Vec<ListedCode>, ApiError> {
    if entries.is_empty() || entries.len() > MAX_IMPORT_CODES {
        return Err(ApiError::Invalid(format!(
            "an import lists 1 to {MAX_IMPORT_CODES} codes; this one lists {}",
            entries.len()
        )));
    }
    let mut first_at: HashMap<CouponCode, String> = HashMap::with_capacity(entries.len());
    let mut listed = Vec::with_capacity(entries.len());
    for Entry { at, code, uses } in entries {
        let code =
            CouponCode::parse(&code).map_err(|e| ApiError::Invalid(format!("{at}: {}", e.0)))?;
        let uses = uses.unwrap_or(1);
        if !(1..=MAX_AVAILABILITY).contains(&uses) {
            return Err(ApiError::Invalid(format!(
                "{at}: availability_count must be 1 to {MAX_AVAILABILITY}"
            )));
        }
        if let Some(first) = first_at.get(&code) {
            return Err(ApiError::Invalid(format!(
                "{at}: code {code} is listed twice (first at {first})"
            )));
        }
        first_at.insert(code.clone(), at);
        listed.push(ListedCode { code, uses });
    }
    Ok(listed)
}

fn csv_entries(body: &[u8]) -> Result<Vec<Entry>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::Malformed("the CSV body is not UTF-8".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    let mut header_allowed = true;
    for (index, line) in text.lines().enumerate() {
        let at = format!("line {}", index + 1);
        let fields: Vec<&str> = line
            .split(',')
            .map(|field| field.trim().trim_matches('"').trim())
            .collect();
        if fields.iter().all(|field| field.is_empty()) {
            continue;
        }
        if std::mem::take(&mut header_allowed) && fields[0].eq_ignore_ascii_case("code") {
            match fields.get(1) {
                None => continue,
                Some(column) if column.eq_ignore_ascii_case("availability_count") => {
                    if fields.len() == 2 {
                        continue;
                    }
                }
                Some(_) => {}
            }
            return Err(ApiError::Invalid(format!(
                "{at}: the header names the columns code and availability_count"
            )));
        }
        let uses = match fields.as_slice() {
            [_] | [_, ""] => None,
            [_, uses] => Some(uses.parse::<u64>().map_err(|_| {
                ApiError::Invalid(format!(
                    "{at}: availability_count {uses:?} is not a whole number"
                ))
            })?),
            _ => {
                return Err(ApiError::Invalid(format!(
                    "{at}: a line holds a code and, optionally, its availability_count"
                )));
            }
        };
        entries.push(Entry {
            at,
            code: fields[0].to_owned(),
            uses,
        });
    }
    Ok(entries)
}

fn json_entries(body: &[u8]) -> Result<Vec<Entry>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::Malformed(format!("the body is not valid JSON: {e}")))?;
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut fields) => match (fields.remove("codes"), fields.keys().next()) {
            (_, Some(other)) => {
                return Err(ApiError::Invalid(format!(
                    "field {other:?}: an import's body has only codes"
                )));
            }
            (Some(Value::Array(list)), None) => list,
            _ => {
                return Err(ApiError::Invalid(
                    "codes must be a list of codes or of {\"code\", \"availability_count\"} objects"
                        .into(),
                ));
            }
        },
        _ => {
            return Err(ApiError::Malformed(
                "the JSON body must be a list of codes or an object with codes".into(),
            ));
        }
    };
    list.into_iter()
        .enumerate()
        .map(|(index, item)| json_entry(format!("codes[{index}]"), item))
        .collect()
}

fn json_entry(at: String, item: Value) -> Result<Entry, ApiError> {
    let invalid = |what: &str| ApiError::Invalid(format!("{at}: {what}"));
    match item {
        Value::String(code) => Ok(Entry {
            at,
            code,
            uses: None,
        }),
        Value::Object(mut fields) => {
            let code = match fields.remove("code") {
                Some(Value::String(code)) => code,
                _ => return Err(invalid("code must be given as text")),
            };
            let uses = match fields.remove("availability_count") {
                None => None,
                // `5` or `"5"`, as every route reads a count.
                Some(value) => lenient::opt_number(value)
                    .map_err(|_| invalid("availability_count must be a whole number"))?,
            };
            if let Some(other) = fields.keys().next() {
                return Err(invalid(&format!(
                    "unknown field {other:?}: give code and availability_count"
                )));
            }
            Ok(Entry { at, code, uses })
        }
        _ => Err(invalid(
            "each entry is a code or a {\"code\", \"availability_count\"} object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(entries: Result<Vec<Entry>, ApiError>) -> Result<Vec<(String, u64)>, String> {
        let listed = checked(entries.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        Ok(listed
            .into_iter()
            .map(|l| (l.code.as_str().to_owned(), l.uses))
            .collect())
    }

    #[test]
    fn csv_takes_codes_with_or_without_uses_and_a_header() {
        let body = "\u{feff}Code,Availability_Count\r\nsummer-1,3\n\"SUMMER-2\"\n\n SUMMER-3 , \n";
        assert_eq!(
            codes(csv_entries(body.as_bytes())).unwrap(),
            [
                ("SUMMER-1".into(), 3),
                ("SUMMER-2".into(), 1),
                ("SUMMER-3".into(), 1)
            ]
        );
        assert_eq!(
            codes(csv_entries(b"code\nA1\n")).unwrap(),
            [("A1".into(), 1)]
        );
    }

    #[test]
    fn csv_names_the_line_of_a_bad_code() {
        for (body, expected) in [
            ("A1\nB 2\n", "line 2: code may contain only"),
            (
                "A1\na1\n",
                "line 2: code A1 is listed twice (first at line 1)",
            ),
            ("A1,0\n", "line 1: availability_count must be 1 to"),
            (
                "A1,x\n",
                "line 1: availability_count \"x\" is not a whole number",
            ),
            ("A1,1,2\n", "line 1: a line holds a code"),
            ("code,uses\nA1\n", "line 1: the header names"),
            (
                "\n\n",
                "an import lists 1 to 100000 codes; this one lists 0",
            ),
        ] {
            let error = codes(csv_entries(body.as_bytes())).unwrap_err();
            assert!(error.starts_with(expected), "{body:?}: {error}");
        }
    }

    #[test]
    fn json_takes_a_list_of_codes_or_objects_bare_or_under_codes() {
        let bare = br#"["a1", {"code": "B2", "availability_count": 5}, {"code": "C3", "availability_count": "2"}]"#;
        let expected = [("A1".into(), 1), ("B2".into(), 5), ("C3".into(), 2)];
        assert_eq!(codes(json_entries(bare)).unwrap(), expected);
        let wrapped = br#"{"codes": ["a1", {"code": "B2", "availability_count": 5}, {"code": "C3", "availability_count": "2"}]}"#;
        assert_eq!(codes(json_entries(wrapped)).unwrap(), expected);
    }

    #[test]
    fn json_names_the_entry_of_a_bad_code() {
        for (body, expected) in [
            (&br#"["A1", 7]"#[..], "codes[1]: each entry is a code"),
            (
                br#"[{"code": "A1", "uses": 2}]"#,
                "codes[0]: unknown field \"uses\"",
            ),
            (
                br#"[{"availability_count": 2}]"#,
                "codes[0]: code must be given",
            ),
            (
                br#"[{"code": "A1", "availability_count": -1}]"#,
                "codes[0]: availability_count must be a whole",
            ),
            (
                br#"{"codes": ["A1"], "active": true}"#,
                "field \"active\": an import's body has only codes",
            ),
            (br#"{"codes": "A1"}"#, "codes must be a list"),
            (br#""A1""#, "the JSON body must be a list"),
            (
                br#"[]"#,
                "an import lists 1 to 100000 codes; this one lists 0",
            ),
        ] {
            let error = codes(json_entries(body)).unwrap_err();
            assert!(
                error.starts_with(expected),
                "{}: {error}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn more_than_the_limit_is_refused() {
        let body: String = (0..=MAX_IMPORT_CODES).map(|i| format!("C{i}\n")).collect();
        let error = codes(csv_entries(body.as_bytes())).unwrap_err();
        assert!(error.contains("this one lists 100001"), "{error}");
    }
}
