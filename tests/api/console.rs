//! The operator console's files: served from the binary with headers that
//! keep any value from the API that reaches the page from running as code
//! (the browser test, scripts/console-e2e.sh, checks the same in Chromium).

use console::{ASSETS, SECURITY_HEADERS};

use crate::helpers::*;

/// Every answer of the console function, errors included.
fn assert_locked_down(response: &TestResponse, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(response.header(name), Some(value), "{what}: {name}");
    }
    let csp = response.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(
            csp.split("; ").any(|d| d == directive),
            "{what}: {directive} in {csp}"
        );
    }
    assert!(!csp.contains("unsafe-"), "{what}: {csp}");
}

#[tokio::test]
async fn the_page_and_its_files_are_served_locked_down_and_revalidated() {
    let t = TestApp::new().await;
    for path in ["/console", "/console/", "/console/index.html"] {
        let page = t.send(get(path)).await;
        page.expect(200);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert!(page.text().contains("/console/app.js"), "{path}");
        assert_locked_down(&page, path);
    }
    for asset in ASSETS {
        let path = format!("/console/{}", asset.name);
        let served = t.send(get(&path)).await;
        served.expect(200);
        assert_eq!(served.header("content-type"), Some(asset.content_type));
        assert_eq!(served.text(), asset.body);
        assert_eq!(served.header("cache-control"), Some("no-cache"));
        assert_locked_down(&served, &path);
        // A browser's revalidation of an unchanged file: no body again.
        let etag = served.header("etag").expect("an entity tag").to_owned();
        let again = t.send(get(&path).header("if-none-match", &etag)).await;
        again.expect(304);
        assert!(again.text().is_empty());
        let stale = t
            .send(get(&path).header("if-none-match", "\"other\""))
            .await;
        stale.expect(200);
    }
    for (method, path, status) in [
        ("GET", "/console/missing.js", 404),
        ("GET", "/console/../template.yaml", 404),
        ("GET", "/console/a/b", 404),
        ("POST", "/console/", 405),
    ] {
        let answer = t.send(RequestBuilder::new(method, path)).await;
        answer.expect(status);
        assert_locked_down(&answer, path);
    }
}

#[test]
fn the_files_load_nothing_inline_or_from_elsewhere_and_stay_small() {
    let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
    // Under 200 kB even uncompressed (API Gateway does not compress).
    assert!(total < 200_000, "the console's files are {total} bytes");
    let page = ASSETS.iter().find(|a| a.name == "index.html").unwrap().body;
    for script in page.split("<script").skip(1) {
        let tag = &script[..script.find('>').unwrap()];
        assert!(
            tag.contains("src=\"/console/"),
            "an inline or foreign script: <script{tag}>"
        );
    }
    for asset in ASSETS {
        let body = asset.body;
        // No inline handlers or styles (the CSP would block them anyway).
        for attribute in [" onclick=", " onload=", " onerror=", " style="] {
            assert!(!body.contains(attribute), "{}: {attribute}", asset.name);
        }
        // Nothing from another host: no CDN, no fonts, no analytics.
        for scheme in ["http://", "https://", "//cdn"] {
            let foreign = body
                .match_indices(scheme)
                .any(|(at, _)| !body[at..].starts_with("http://www.w3.org/"));
            assert!(!foreign, "{} names another host ({scheme})", asset.name);
        }
    }
    // The script builds the page from DOM nodes and text, never from
    // markup: no value from the API can become an element.
    let script = ASSETS.iter().find(|a| a.name == "app.js").unwrap().body;
    for sink in [
        ".innerHTML",
        ".outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
    ] {
        assert!(!script.contains(sink), "app.js uses {sink}");
    }
}
