//! API Gateway's own routing, over the routes `template.yaml` deploys.
//!
//! HTTP APIs select a route as AWS documents it ("Routing API requests",
//! HTTP API developer guide): a full match of path and method first (a
//! route's `{param}` takes one whole segment, and `ANY` any method), then
//! the route with the longest greedy `{proxy+}` prefix, then `$default`.
//! A trailing slash is part of the path: `/coupon/` does not fully match
//! `/coupon`. A greedy variable takes the rest of the path, an empty rest
//! included (`/coupon/` selects `/coupon/{proxy+}`; template.yaml says why).
//! `TestApp::call` routes every request of the integration tests this way,
//! so they reach the function a deployed stack would invoke.

use std::sync::OnceLock;

use common::routes::{self, Function, ROUTES};

use crate::helpers::*;

/// One route of the HTTP API: `ANY`, `GET`, ...; a path or `$default`; its
/// function's logical id and binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRoute {
    pub method: String,
    pub path: String,
    pub function: String,
    pub binary: String,
}

impl GatewayRoute {
    /// A route of the route table, not one of the greedy or `$default`
    /// routes that catch trailing slashes and unknown paths.
    pub fn in_route_table(&self) -> bool {
        self.greedy_prefix().is_none() && self.path != "$default"
    }

    fn takes(&self, method: &str) -> bool {
        self.method == "ANY" || self.method == method
    }

    fn greedy_prefix(&self) -> Option<&str> {
        let (prefix, variable) = self.path.rsplit_once('/')?;
        (variable.starts_with('{') && variable.ends_with("+}")).then_some(prefix)
    }

    /// Literal segments: of two full matches, the one with more wins
    /// (`/coupon/consume` over `/coupon/{code}`).
    fn literals(&self) -> usize {
        self.path
            .split('/')
            .filter(|s| !s.is_empty() && !s.starts_with('{'))
            .count()
    }
}

/// Every HttpApi route of template.yaml's functions.
pub fn deployed() -> &'static [GatewayRoute] {
    static ROUTES: OnceLock<Vec<GatewayRoute>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let mut routes = Vec::new();
        for (function, resource) in crate::template::template()["Resources"]
            .as_mapping()
            .unwrap()
        {
            let Some(events) = resource["Properties"]["Events"].as_mapping() else {
                continue;
            };
            let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str();
            for event in events
                .values()
                .filter(|e| e["Type"].as_str() == Some("HttpApi"))
            {
                let properties = &event["Properties"];
                let path = properties["Path"].as_str().unwrap();
                // select() compares greedy prefixes as text.
                assert!(
                    !path.contains('+') || path.matches('{').count() == 1,
                    "{path}: a greedy route's prefix must be literal here"
                );
                routes.push(GatewayRoute {
                    method: properties["Method"].as_str().unwrap().to_uppercase(),
                    path: path.to_owned(),
                    function: function.as_str().unwrap().to_owned(),
                    binary: binary.unwrap().to_owned(),
                });
            }
        }
        routes
    })
}

/// Whether a route path without a greedy variable takes `path` whole.
fn full_match(route: &str, path: &str) -> bool {
    let (route, path): (Vec<_>, Vec<_>) = (route.split('/').collect(), path.split('/').collect());
    route.len() == path.len()
        && route.iter().zip(&path).all(|(part, segment)| {
            if part.starts_with('{') {
                !segment.is_empty()
            } else {
                part == segment
            }
        })
}

/// The route API Gateway selects for `method` and `path` (no query).
pub fn select<'r>(routes: &'r [GatewayRoute], method: &str, path: &str) -> &'r GatewayRoute {
    let full = routes
        .iter()
        .filter(|r| r.in_route_table() && r.takes(method) && full_match(&r.path, path))
        // The more literal path wins; on the same path, a route naming the
        // method beats ANY.
        .max_by_key(|r| (r.literals(), r.method != "ANY"));
    let greedy = || {
        routes
            .iter()
            .filter(|r| r.takes(method))
            .filter_map(|r| {
                let prefix = r.greedy_prefix()?;
                // Any rest after the prefix's "/", the empty one too.
                let rest = path.strip_prefix(prefix)?;
                rest.starts_with('/').then_some((prefix.len(), r))
            })
            .max_by_key(|(length, _)| *length)
            .map(|(_, r)| r)
    };
    let default = || {
        routes
            .iter()
            .find(|r| r.path == "$default" && r.takes(method))
            .expect("template.yaml has a $default route")
    };
    full.or_else(greedy).unwrap_or_else(default)
}

/// The binary of a function of template.yaml that serves HTTP routes, by
/// its logical id.
pub fn binary_of(logical_id: &str) -> &'static str {
    &deployed()
        .iter()
        .find(|r| r.function == logical_id)
        .unwrap_or_else(|| panic!("template.yaml has no HTTP function {logical_id}"))
        .binary
}

/// The function API Gateway invokes for a request.
pub fn function_for(method: &str, path: &str) -> Function {
    let binary = &select(deployed(), method, path).binary;
    ROUTES
        .iter()
        .map(|spec| spec.function)
        .find(|f| f.binary() == binary)
        .unwrap_or_else(|| panic!("{method} {path} reaches {binary}, which serves no HTTP route"))
}

/// `(method, path)` of every curl line in README.md (the seed's five
/// examples among them), `<placeholders>` filled in.
fn readme_requests() -> Vec<(String, String)> {
    let readme = crate::template::repo_file("README.md");
    let mut requests = Vec::new();
    for line in readme
        .lines()
        .filter(|l| l.trim_start().starts_with("curl "))
    {
        let Some((_, rest)) = line.split_once("$BASE_URL") else {
            continue;
        };
        let url = rest.split(['"', '\'', ' ']).next().unwrap();
        let path = url.split('?').next().unwrap().replace(['<', '>'], "");
        let words: Vec<&str> = line.split_whitespace().collect();
        let method = words
            .windows(2)
            .find(|w| w[0] == "-X" || w[0] == "--request")
            .map_or("GET", |w| w[1]);
        requests.push((method.to_owned(), path));
    }
    requests
}

/// A path of the route table with its parameter filled in.
fn sample(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "AYSB23X2" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_readme_path_reaches_its_function_with_and_without_the_trailing_slash() {
    let mut requests = readme_requests();
    assert!(
        requests.len() >= 15,
        "README.md's curl lines were not found: {requests:?}"
    );
    // The seed's five, spelled as it spells them.
    for seed in [
        ("POST", "/coupon/"),
        ("GET", "/coupon/"),
        ("PUT", "/coupon/AS396B/"),
        ("GET", "/coupon/consume/"),
        ("POST", "/coupon/consume/"),
    ] {
        assert!(
            requests.contains(&(seed.0.to_owned(), seed.1.to_owned())),
            "README.md lost the seed's {seed:?}"
        );
    }
    // And every method of every route.
    for spec in ROUTES {
        for method in spec.methods() {
            requests.push((method.to_owned(), sample(spec.path)));
        }
    }
    for (method, path) in requests {
        let bare = path.trim_end_matches('/').to_owned();
        let matched = routes::recognise_path(&bare)
            .unwrap_or_else(|| panic!("README's {method} {path} is no route"));
        assert!(
            matched.spec.allows(&method.parse().unwrap()),
            "{method} {path}"
        );
        for variant in [bare.clone(), format!("{bare}/")] {
            assert_eq!(
                function_for(&method, &variant),
                matched.spec.function,
                "API Gateway must send {method} {variant} to {}",
                matched.spec.function.binary()
            );
        }
    }
}

#[test]
fn the_selection_follows_aws_priorities() {
    let routes = deployed();
    let select = |method, path| {
        let r = select(routes, method, path);
        (r.method.as_str(), r.path.as_str())
    };
    // A full match, the literal path over the parameter.
    assert_eq!(
        select("POST", "/coupon/consume"),
        ("POST", "/coupon/consume")
    );
    assert_eq!(select("PUT", "/coupon/AB12"), ("PUT", "/coupon/{code}"));
    // A method the full match lacks: the greedy route, not the other method's.
    assert_eq!(select("GET", "/coupon/AB12"), ("ANY", "/coupon/{proxy+}"));
    // The longest greedy prefix, the empty rest included.
    assert_eq!(
        select("GET", "/coupon/consume/"),
        ("ANY", "/coupon/consume/{proxy+}")
    );
    assert_eq!(
        select("POST", "/coupon/consume/r-1/rollback/"),
        ("ANY", "/coupon/consume/{proxy+}")
    );
    assert_eq!(select("GET", "/coupon/"), ("ANY", "/coupon/{proxy+}"));
    // No route: $default.
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/ping/"),
        ("HEAD", "/ping"),
        ("DELETE", "/coupon"),
        ("GET", "/couponx"),
        ("PUT", "/exports"),
    ] {
        assert_eq!(select(method, path), ("ANY", "$default"), "{method} {path}");
    }
}

/// What no route serves gets our problem+json from whichever function
/// API Gateway picks, never API Gateway's `{"message":"Not Found"}`.
#[tokio::test]
async fn unrouted_requests_get_a_problem_from_the_function_api_gateway_picks() {
    let t = TestApp::new().await;
    let a = t.token_a.clone();
    for (method, path, status, allow) in [
        ("GET", "/", 404, None),
        ("GET", "/nothing/here/", 404, None),
        ("POST", "/ping", 405, Some("GET, HEAD")),
        ("DELETE", "/coupon", 405, Some("GET, POST")),
        ("PUT", "/exports", 405, Some("GET, POST")),
        ("GET", "/coupon/AB12/", 405, Some("PUT, DELETE")),
        ("PATCH", "/coupon/consume/", 405, Some("GET, POST")),
        ("GET", "/coupon/a/b/c", 404, None),
        ("GET", "/exports/x", 404, None),
    ] {
        let response = t.send(RequestBuilder::new(method, path).token(&a)).await;
        assert_eq!(
            response.status,
            status,
            "{method} {path}: {}",
            response.text()
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{method} {path}"
        );
        assert_eq!(response.header("allow"), allow, "{method} {path}");
    }
    // The $default route's function answers without a token too.
    let response = t.send(get("/nothing")).await;
    response.assert_problem(404, "not_found");
    // And still serves its own route.
    assert_eq!(t.send(get("/ping/")).await.status, 200);
}
