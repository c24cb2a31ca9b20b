//! The export as finance prints it: LibreOffice headless (Debian's
//! `libreoffice-calc-nogui`, installed by `make print-tools`) turns a real
//! export into a PDF, and poppler's `pdftotext` reads it back page by page.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::exports::{download, export_today, redeem_with};
use crate::helpers::*;

/// More rows than one landscape page holds at one page's width.
const ROWS: usize = 150;

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("{program}: {e}; install libreoffice-calc-nogui and poppler-utils (make print-tools)")
    });
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The PDF LibreOffice makes of `xlsx`: one text per page.
fn printed_pages(dir: &Path, xlsx: &Path) -> Vec<String> {
    // A profile of its own: instances sharing one wait on each other's lock.
    let profile = format!("-env:UserInstallation=file://{}/profile", dir.display());
    let out = dir.display().to_string();
    let xlsx = xlsx.display().to_string();
    run(
        "soffice",
        &[
            &profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            &out,
            &xlsx,
        ],
    );
    let pdf = xlsx.replace(".xlsx", ".pdf");
    let info = run("pdfinfo", &[&pdf]);
    let pages: usize = info
        .lines()
        .find_map(|line| line.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo names the page count");
    (1..=pages)
        .map(|page| {
            let page = page.to_string();
            run(
                "pdftotext",
                &["-f", &page, "-l", &page, "-layout", &pdf, "-"],
            )
        })
        .collect()
}

#[tokio::test]
async fn an_export_prints_one_page_wide_with_the_header_on_every_page() {
    let t = TestApp::new().await;
    let redeemed = redeem_with(
        &t,
        &t.token_a,
        ROWS,
        json!({"availability_count": ROWS, "product_id": "apple123", "discount_fixed": "4.99"}),
        |i| Some(("order_id".to_owned(), format!("ord-{i:04}"))),
    )
    .await;
    let created = export_today(&t).await;
    created.expect(201);
    let bytes = download(created.json()["url"].as_str().unwrap()).await;

    let dir = std::env::temp_dir().join(format!("printed-export-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let xlsx = dir.join("export.xlsx");
    std::fs::write(&xlsx, bytes).unwrap();
    let pages = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || printed_pages(&dir, &xlsx)
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).ok();

    assert!(pages.len() >= 2, "{ROWS} rows fill more than a page");
    // The header, from the first column to the last, opens every page: the
    // page is the sheet's whole width and repeats the header row.
    for (number, text) in pages.iter().enumerate() {
        let first = text.lines().find(|line| !line.trim().is_empty()).unwrap();
        assert!(
            first.trim_start().starts_with("redemption_id")
                && first.trim_end().ends_with("metadata"),
            "page {}: {first:?}",
            number + 1
        );
    }
    // Each row is printed once, whole: its id and its last column (the
    // metadata) on one line of one page.
    let mut printed: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (number, text) in pages.iter().enumerate() {
        for line in text.lines() {
            for row in &redeemed {
                let id = row["redemption_id"].as_str().unwrap();
                if line.contains(id) {
                    let order = row["metadata"]["order_id"].as_str().unwrap();
                    assert!(line.contains(order), "row {id} split: {line:?}");
                    printed.entry(id).or_default().push(number + 1);
                }
            }
        }
    }
    assert_eq!(printed.len(), ROWS, "every row printed");
    assert!(
        printed.values().all(|on| on.len() == 1),
        "a row per page, once: {printed:?}"
    );
}
