//! `GET /console/`: the operator console, a page and its assets compiled
//! into this binary from the repository's `console/` folder (plain HTML,
//! CSS and JavaScript, no build step). No token is needed for the files:
//! the page asks for one and sends it to the API itself. This function
//! touches no AWS resource.
//!
//! Every answer, errors included, carries a strict Content-Security-Policy
//! (scripts and connections to this origin only, no inline script, no
//! framing) and tells browsers not to sniff types or send referrers, so a
//! value from the API that slipped into the page as markup still could not
//! run or leak anything.

use std::sync::LazyLock;

use common::ApiError;
use common::http::serve_public;
use common::routes::{self, Function, Route};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Error, Request, Response};
use sha2::{Digest, Sha256};

/// The security headers of every answer.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// A file of the console.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// The console's files; `index.html` is the page at `/console/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../../console/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../console/app.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../../console/style.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../../console/icon.svg"),
    },
];

/// Each asset's entity tag: a digest of its bytes, so a deploy that
/// changes a file changes its tag.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.body)[..12])))
        .collect()
});

pub async fn handle(req: Request) -> Result<Response<Body>, Error> {
    let mut response = serve_public(&req, Function::Console, || answer(&req));
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    Ok(response)
}

fn answer(req: &Request) -> Result<Response<Body>, ApiError> {
    let name = match routes::recognise(req) {
        Some(m) if m.route() == Route::ConsoleAsset => m.param(),
        _ => "index.html",
    };
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return Err(ApiError::NotFound(format!(
            "the console has no file {name}"
        )));
    };
    let (asset, etag) = (&ASSETS[index], &ETAGS[index]);
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
    let mut response = if unchanged {
        let mut empty = Response::new(Body::Empty);
        *empty.status_mut() = StatusCode::NOT_MODIFIED;
        empty
    } else {
        Response::new(Body::from(asset.body))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Checked with the server on every use, so a deploy shows at once; the
    // entity tag makes the check cheap.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(tag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, tag);
    }
    Ok(response)
}
