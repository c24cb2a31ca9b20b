//! Redemption-log exports: written to S3 as xlsx, fetched through the
//! presigned link with a plain HTTP GET, and read back cell by cell.

use std::collections::BTreeSet;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use serde_json::{Value, json};

use crate::helpers::*;

const HEADER: [&str; 15] = [
    "redemption_id",
    "kind",
    "reverses",
    "code",
    "product_id",
    "promo_type",
    "discount_type",
    "discount_value",
    "currency",
    "customer_id",
    "order_amount",
    "discount_amount",
    "consumed_at (UTC)",
    "campaign_id",
    "metadata",
];

/// Consumes `n` uses of a fresh coupon of the token's tenant; the redemptions.
async fn redeem(t: &TestApp, token: &str, n: usize, fields: Value) -> Vec<Value> {
    redeem_with(t, token, n, fields, |_| None).await
}

/// As `redeem`, the `i`th consume with `metadata(i)`'s form fields.
pub async fn redeem_with(
    t: &TestApp,
    token: &str,
    n: usize,
    fields: Value,
    metadata: impl Fn(usize) -> Option<(String, String)>,
) -> Vec<Value> {
    let created = t.send(post("/coupon").token(token).json(fields)).await;
    let code = created.expect(201).string("code");
    let mut redemptions = Vec::new();
    for i in 0..n {
        let mut consume = post(&format!("/coupon/consume?code={code}")).token(token);
        if let Some((key, value)) = metadata(i) {
            consume = consume.form(&[(&format!("metadata[{key}]"), &value)]);
        }
        let consumed = t.send(consume).await;
        consumed.expect(200);
        redemptions.push(consumed.json());
    }
    redemptions
}

/// What a client does with the link: a plain HTTP GET.
pub async fn download(url: &str) -> Vec<u8> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut response = ureq::get(&url).call().expect("GET the presigned link");
        response.body_mut().read_to_vec().expect("read the body")
    })
    .await
    .unwrap()
}

/// Every sheet's rows, as strings (datetimes as "datetime").
/// One worksheet: its name and its rows of cells as text.
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
}

pub fn read_workbook(bytes: Vec<u8>) -> Vec<Sheet> {
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes)).expect("an xlsx workbook");
    let names = workbook.sheet_names().to_vec();
    names
        .into_iter()
        .map(|name| {
            let range = workbook.worksheet_range(&name).unwrap();
            let rows = range
                .rows()
                .map(|row| {
                    row.iter()
                        .map(|cell| match cell {
                            Data::DateTime(_) => "datetime".to_owned(),
                            Data::Float(f) => format!("{f:.2}"),
                            Data::Empty => String::new(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            Sheet { name, rows }
        })
        .collect()
}

/// An object as the bucket holds it.
pub async fn fetch(t: &TestApp, key: &str) -> Vec<u8> {
    let object =
        t.s3.get_object()
            .bucket(&t.bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    object.body.collect().await.unwrap().into_bytes().to_vec()
}

/// `POST /exports` for today, as tenant A.
pub async fn export_today(t: &TestApp) -> TestResponse {
    t.send(
        post("/exports")
            .token(&t.token_a)
            .json(json!({"from": today(), "to": today()})),
    )
    .await
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn an_export_holds_every_row_of_the_tenant_and_none_of_another() {
    let t = TestApp::new().await;
    let mine = redeem_with(
        &t,
        &t.token_a,
        3,
        json!({"availability_count": 5, "product_id": "apple123", "promo_type": "voucher",
               "discount_fixed": "4.99", "currency": "EUR"}),
        |i| (i > 0).then(|| ("order_id".to_owned(), format!("A-{i}"))),
    )
    .await;
    let theirs = redeem(&t, &t.token_b, 2, json!({"availability_count": 5})).await;

    let created = export_today(&t).await;
    created.expect(201);
    let export = created.json();
    assert_eq!(export["rows"], 3);
    let key = export["key"].as_str().unwrap();
    assert!(
        key.starts_with("exports/tenant-a/") && key.ends_with(".xlsx"),
        "{key}"
    );
    let url = export["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-Expires=900"),
        "links live 900 s by default: {url}"
    );
    assert!(export["expires_at"].is_string());

    let sheets = read_workbook(download(url).await);
    assert_eq!(sheets.len(), 1);
    let Sheet { name, rows } = &sheets[0];
    assert_eq!(name, "Redemptions");
    assert_eq!(rows[0], HEADER);
    assert_eq!(rows.len(), 4, "header and three rows");
    let ids: BTreeSet<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
    let expected: BTreeSet<&str> = mine
        .iter()
        .map(|r| r["redemption_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected);
    for row in &rows[1..] {
        let code = mine[0]["code"].as_str().unwrap();
        assert_eq!(
            row[1..14],
            [
                "consume", "", code, "apple123", "voucher", "fixed", "4.99", "EUR", "", "", "",
                "datetime", ""
            ]
        );
        // The consume's metadata, as JSON text; none, an empty cell.
        let consumed = mine.iter().find(|r| r["redemption_id"] == row[0]).unwrap();
        let metadata = &consumed["metadata"];
        match metadata.as_object().unwrap().is_empty() {
            true => assert_eq!(row[14], ""),
            false => assert_eq!(serde_json::from_str::<Value>(&row[14]).unwrap(), *metadata),
        }
    }
    let with_metadata = mine.iter().filter(|r| r["metadata"] != json!({})).count();
    assert_eq!(with_metadata, 2);
    for other in &theirs {
        let id = other["redemption_id"].as_str().unwrap();
        assert!(!ids.contains(id), "another tenant's row leaked");
    }
}

#[tokio::test]
async fn past_the_sheet_limit_the_rows_go_on_in_a_new_sheet() {
    let t = TestApp::with(Options {
        rows_per_sheet: Some(3),
        ..Options::default()
    })
    .await;
    let redeemed = redeem(&t, &t.token_a, 7, json!({"availability_count": 10})).await;
    let created = export_today(&t).await;
    assert_eq!(created.json()["rows"], 7);
    let sheets = read_workbook(download(created.json()["url"].as_str().unwrap()).await);
    let names: Vec<&str> = sheets.iter().map(|sheet| sheet.name.as_str()).collect();
    assert_eq!(names, ["Redemptions", "Redemptions 2", "Redemptions 3"]);
    let sizes: Vec<usize> = sheets.iter().map(|sheet| sheet.rows.len() - 1).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let ids: BTreeSet<String> = sheets
        .iter()
        .flat_map(|Sheet { rows, .. }| {
            assert_eq!(rows[0], HEADER, "every sheet has the header");
            rows[1..].iter().map(|row| row[0].clone())
        })
        .collect();
    assert_eq!(ids.len(), 7, "no row lost or repeated");
    // Ids are UUIDv7s: sorted by id is sorted by time, across log shards.
    let in_file: Vec<String> = sheets
        .iter()
        .flat_map(|sheet| sheet.rows[1..].iter().map(|row| row[0].clone()))
        .collect();
    assert!(in_file.is_sorted(), "rows in time order: {in_file:?}");

    // Each sheet's header is frozen and carries an autofilter over its rows.
    let bytes = download(created.json()["url"].as_str().unwrap()).await;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    for (sheet, last_row) in [(1, 4), (2, 4), (3, 2)] {
        let mut xml = String::new();
        std::io::Read::read_to_string(
            &mut zip
                .by_name(&format!("xl/worksheets/sheet{sheet}.xml"))
                .unwrap(),
            &mut xml,
        )
        .unwrap();
        assert!(
            xml.contains(&format!(r#"<autoFilter ref="A1:O{last_row}"/>"#)),
            "sheet {sheet}: {xml}"
        );
        // Printed landscape, one page wide and as many down as it takes.
        assert!(
            xml.contains(r#"<pageSetUpPr fitToPage="1"/>"#)
                && xml.contains(r#"orientation="landscape""#)
                && xml.contains(r#"fitToHeight="0""#),
            "sheet {sheet} print setup: {xml}"
        );
        assert!(
            xml.contains(r#"state="frozen""#),
            "sheet {sheet} header frozen"
        );
    }
    assert!(
        redeemed
            .iter()
            .all(|r| ids.contains(r["redemption_id"].as_str().unwrap()))
    );
    // Each sheet repeats its header row on every printed page.
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut xml).unwrap();
    assert!(xml.contains(r#"name="_xlnm.Print_Titles""#), "{xml}");
    for sheet in ["Redemptions", "'Redemptions 2'", "'Redemptions 3'"] {
        assert!(xml.contains(&format!(">{sheet}!$1:$1<")), "{xml}");
    }
}

#[tokio::test]
async fn exports_are_listed_newest_first_with_fresh_links_per_tenant() {
    let t = TestApp::new().await;
    redeem(&t, &t.token_a, 1, json!({})).await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        let created = export_today(&t).await;
        keys.push(created.string("key"));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let page = t
        .send(get("/exports?limit=2").token(&t.token_a))
        .await
        .json();
    let first: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(first, [keys[2].as_str(), keys[1].as_str()]);
    assert_eq!(page["has_more"], true);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = t
        .send(get(&format!("/exports?limit=2&cursor={}", urlencode(cursor))).token(&t.token_a))
        .await;
    let rest = rest.json();
    assert_eq!(rest["data"][0]["key"], keys[0].as_str());
    assert_eq!(rest["has_more"], false);
    let link = rest["data"][0]["url"].as_str().unwrap();
    assert_eq!(read_workbook(download(link).await)[0].rows.len(), 2);

    let theirs = t.send(get("/exports").token(&t.token_b)).await.json();
    assert_eq!(theirs["data"], json!([]));
}

#[tokio::test]
async fn bad_export_requests_get_422() {
    let t = TestApp::new().await;
    let a = |body: Value| post("/exports").token(&t.token_a).json(body);
    for body in [
        json!({"from": "2030-01-02", "to": "2030-01-01"}),
        json!({"from": "2030-01-01", "to": "2030-03-01"}),
        json!({"from": "2030-01-01"}),
        json!({"from": "yesterday", "to": "2030-01-01"}),
        json!({"from": "2030-01-01", "to": "2030-01-01", "tenant": "tenant-b"}),
    ] {
        t.send(a(body)).await.assert_problem(422, "invalid_request");
    }
    t.send(get("/exports?cursor=nonsense").token(&t.token_a))
        .await
        .assert_problem(422, "invalid_request");
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("c", text)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn the_daily_export_writes_each_tenants_day_and_reruns_identically() {
    let t = TestApp::new().await;
    let mine = redeem(&t, &t.token_a, 2, json!({"availability_count": 5})).await;
    // Fired just after midnight: exports the day the redemptions happened.
    let fired = chrono::Utc::now() + chrono::Duration::days(1);
    let queues = crate::daily_export::Queues::new().await;
    let run = || async {
        let enqueued = queues.run_schedule(&t, fired).await;
        assert_eq!(enqueued["enqueued"], 2, "{enqueued}");
        queues.deliver(&t.state).await
    };
    let first = run().await;
    assert_eq!((first.invocations, first.failures), (2, 0));
    let key_a = format!("exports/tenant-a/{}.xlsx", today());
    let key_b = format!("exports/tenant-b/{}.xlsx", today());

    let rows = |bytes: Vec<u8>| read_workbook(bytes).remove(0).rows;
    let before = rows(fetch(&t, &key_a).await);
    assert_eq!(before.len(), 3);
    assert!(mine.iter().all(|r| {
        before
            .iter()
            .any(|row| row[0] == r["redemption_id"].as_str().unwrap())
    }));
    assert_eq!(rows(fetch(&t, &key_b).await), [HEADER]);

    run().await;
    assert_eq!(
        rows(fetch(&t, &key_a).await),
        before,
        "a re-run rewrites the same rows"
    );
    let listed = t.send(get("/exports").token(&t.token_a)).await.json();
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "one export per key"
    );
}

#[tokio::test]
async fn when_s3_fails_nothing_is_exported_or_recorded() {
    let t = TestApp::new().await;
    redeem(&t, &t.token_a, 1, json!({})).await;
    // The bucket goes away: every upload now fails, after the SDK's retries.
    t.s3.delete_bucket().bucket(&t.bucket).send().await.unwrap();

    let created = export_today(&t).await;
    created.assert_problem(503, "unavailable");
    let listed = t.send(get("/exports").token(&t.token_a)).await.json();
    assert_eq!(
        listed["data"],
        json!([]),
        "no record of an export that was not written"
    );

    // Each tenant's daily export fails alone and is retried by SQS until
    // it waits in the dead-letter queue.
    let queues = crate::daily_export::Queues::new().await;
    queues.run_schedule(&t, chrono::Utc::now()).await;
    let delivered = queues.deliver(&t.state).await;
    assert_eq!(delivered.failures, delivered.invocations);
    assert_eq!(queues.dead_letter_bodies().await.len(), 2);
}

#[tokio::test]
async fn links_live_as_long_as_configured() {
    let mut t = TestApp::new().await;
    t.state.exporter.link_ttl = std::time::Duration::from_secs(60);
    redeem(&t, &t.token_a, 1, json!({})).await;
    let created = export_today(&t).await.json();
    assert!(
        created["url"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Expires=60&"),
        "{created}"
    );
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    let left = expires_at.to_utc() - chrono::Utc::now();
    assert!(
        left <= chrono::Duration::seconds(60) && left > chrono::Duration::seconds(50),
        "{left}"
    );
}

#[tokio::test]
async fn a_rolled_back_consume_shows_as_a_negative_reversal_row() {
    let t = TestApp::new().await;
    let code = t
        .create_coupon(
            json!({"availability_count": 2, "discount_percent": "10", "currency": "EUR"}),
        )
        .await;
    let consumed = t
        .send(
            post("/coupon/consume")
                .token(&t.token_a)
                .json(json!({"code": code, "order_amount": "80", "customer_id": "c-42"})),
        )
        .await;
    let id = consumed.expect(200).string("redemption_id");
    let reversal = t
        .send(post(&format!("/coupon/consume/{id}/rollback")).token(&t.token_a))
        .await;
    let reversal_id = reversal.expect(200).string("redemption_id");

    let created = export_today(&t).await;
    assert_eq!(created.json()["rows"], 2);
    let sheets = read_workbook(download(created.json()["url"].as_str().unwrap()).await);
    let rows = &sheets[0].rows;
    assert_eq!(rows[0], HEADER);
    let common = [code.as_str(), "", "", "percent", "10.00", "EUR", "c-42"];
    assert_eq!(rows[1][..2], [id.as_str(), "consume"]);
    assert_eq!(rows[1][3..10], common);
    assert_eq!(rows[1][10..12], ["80.00", "8.00"]);
    assert_eq!(
        rows[2][..3],
        [reversal_id.as_str(), "reversal", id.as_str()]
    );
    assert_eq!(rows[2][3..10], common);
    assert_eq!(rows[2][10..12], ["-80.00", "-8.00"]);
}

/// The query parameter `name` of a URL.
fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("{name} missing from {url}"))
        .1
}

#[tokio::test]
async fn links_are_signed_only_for_the_tenants_own_keys_and_expire() {
    let mut t = TestApp::new().await;
    t.state.exporter.link_ttl = std::time::Duration::from_secs(120);
    redeem(&t, &t.token_a, 1, json!({})).await;
    let created = export_today(&t).await.json();
    let key_a = created["key"].as_str().unwrap().to_owned();
    let tenant_a = t.tenant_a.clone();
    let tenant_b = common::tenant::TenantId::parse("tenant-b").unwrap();

    // Tenant B cannot have any of A's keys signed, however it is spelled.
    let name = key_a.rsplit('/').next().unwrap();
    for key in [
        key_a.clone(),
        format!("exports/tenant-b/../tenant-a/{name}"),
        format!("exports/tenant-b/./../tenant-a/{name}"),
        format!("exports/tenant-b//{name}"),
        "exports/tenant-b/".to_owned(),
        format!("exports/tenant-bb/{name}"),
        format!("/exports/tenant-b/{name}"),
        format!("tenant-b/{name}"),
    ] {
        match t.state.exporter.link(&tenant_b, &key).await {
            Err(common::ApiError::NotFound(_)) => {}
            other => panic!("tenant B got a link to {key}: {other:?}"),
        }
    }

    // A's link: for that key only, signed now, for the configured lifetime,
    // and `expires_at` is when S3 stops honouring it.
    let before = chrono::Utc::now();
    let (url, expires_at) = t.state.exporter.link(&tenant_a, &key_a).await.unwrap();
    let after = chrono::Utc::now();
    let path = url.split_once('?').unwrap().0;
    assert!(
        path.ends_with(&format!("/{}/{key_a}", t.bucket)),
        "the link names exactly the key: {url}"
    );
    assert_eq!(query_param(&url, "X-Amz-Expires"), "120");
    let signed =
        chrono::NaiveDateTime::parse_from_str(&query_param(&url, "X-Amz-Date"), "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
    let second = chrono::Duration::seconds(1);
    assert!(
        signed >= before - second && signed <= after,
        "signed at {signed}, asked between {before} and {after}"
    );
    let lifetime = expires_at - signed;
    assert!(
        lifetime >= chrono::Duration::seconds(119) && lifetime <= chrono::Duration::seconds(121),
        "X-Amz-Date + X-Amz-Expires is expires_at: {lifetime}"
    );
    assert_eq!(read_workbook(download(&url).await)[0].rows.len(), 2);

    // The listing signs the same way, per tenant.
    let listed = t.send(get("/exports").token(&t.token_a)).await.json();
    let listed_url = listed["data"][0]["url"].as_str().unwrap();
    assert_eq!(query_param(listed_url, "X-Amz-Expires"), "120");
    assert!(listed_url.contains(&format!("/{key_a}?")));
}
