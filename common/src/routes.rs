//! The API's routes, declared once. Each function's dispatcher, the
//! limiter's classification of a request, the metrics' route label, the
//! in-process router of the tests and their check against `template.yaml`
//! and `openapi.yaml` all read this table; nothing else matches paths.

use lambda_http::Request;
use lambda_http::http::Method;

use crate::request::raw_path;

/// A route of the API, by what it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Ping,
    /// Create, list, or look one coupon up by `?code=`.
    Coupons,
    /// Change or delete one coupon.
    Coupon,
    /// A campaign's unassigned code handed to a customer.
    Assign,
    Job,
    JobCodes,
    /// The codes an import found existing.
    JobSkipped,
    /// Validate (`GET`) and consume (`POST`).
    Consume,
    Rollback,
    Reservations,
    Reservation,
    Exports,
    /// Create and list campaigns.
    Campaigns,
    /// Read, change or delete one campaign.
    Campaign,
    /// A campaign's codes as CSV in S3.
    CampaignCodesExport,
    /// Existing codes brought into a campaign, by a job.
    CampaignImport,
    /// A campaign's codes deleted by a job.
    CampaignCodes,
    /// The redemption log, queried.
    Redemptions,
    /// One row of the log, with its reversal.
    Redemption,
    /// Register and list webhooks.
    Webhooks,
    /// Read or delete one webhook.
    Webhook,
    /// A webhook's new signing secret.
    WebhookSecretRotation,
    /// A webhook's recent delivery attempts.
    WebhookDeliveries,
    /// Redemptions, reversals and discount given per day.
    Stats,
    /// The operator console's page.
    Console,
    /// One of the console's scripts, styles or images.
    ConsoleAsset,
}

/// The Lambda function that serves a route, by its binary's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Ping,
    Coupons,
    Consume,
    Exports,
    Campaigns,
    Redemptions,
    Webhooks,
    Console,
}

impl Function {
    pub fn binary(self) -> &'static str {
        match self {
            Function::Ping => "ping",
            Function::Coupons => "coupons",
            Function::Consume => "consume",
            Function::Exports => "exports",
            Function::Campaigns => "campaigns",
            Function::Redemptions => "redemptions",
            Function::Webhooks => "webhooks",
            Function::Console => "console",
        }
    }
}

/// A route's path template (as `template.yaml` spells it), the methods it
/// answers (as a 405's `Allow` header lists them) and its function.
#[derive(Debug)]
pub struct RouteSpec {
    pub route: Route,
    pub path: &'static str,
    pub methods: &'static str,
    pub function: Function,
}

impl RouteSpec {
    pub fn methods(&self) -> impl Iterator<Item = &'static str> {
        self.methods.split(", ")
    }

    pub fn allows(&self, method: &Method) -> bool {
        self.methods().any(|m| m == method.as_str())
    }
}

/// Every route. A literal segment is tried before a `{parameter}` in the
/// same place: `/coupon/consume` comes before `/coupon/{code}`.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        route: Route::Ping,
        path: "/ping",
        methods: "GET, HEAD",
        function: Function::Ping,
    },
    RouteSpec {
        route: Route::Coupons,
        path: "/coupon",
        methods: "GET, POST",
        function: Function::Coupons,
    },
    RouteSpec {
        route: Route::Consume,
        path: "/coupon/consume",
        methods: "GET, POST",
        function: Function::Consume,
    },
    RouteSpec {
        route: Route::Reservations,
        path: "/coupon/reserve",
        methods: "POST",
        function: Function::Consume,
    },
    RouteSpec {
        route: Route::Assign,
        path: "/coupon/assign",
        methods: "POST",
        function: Function::Coupons,
    },
    RouteSpec {
        route: Route::Coupon,
        path: "/coupon/{code}",
        methods: "PUT, DELETE",
        function: Function::Coupons,
    },
    RouteSpec {
        route: Route::Job,
        path: "/coupon/jobs/{job_id}",
        methods: "GET",
        function: Function::Coupons,
    },
    RouteSpec {
        route: Route::Reservation,
        path: "/coupon/reserve/{reservation_id}",
        methods: "GET, DELETE",
        function: Function::Consume,
    },
    RouteSpec {
        route: Route::JobCodes,
        path: "/coupon/jobs/{job_id}/codes",
        methods: "GET",
        function: Function::Coupons,
    },
    RouteSpec {
        route: Route::JobSkipped,
        path: "/coupon/jobs/{job_id}/skipped",
        methods: "GET",
        function: Function::Coupons,
    },
    RouteSpec {
        route: Route::Rollback,
        path: "/coupon/consume/{redemption_id}/rollback",
        methods: "POST",
        function: Function::Consume,
    },
    RouteSpec {
        route: Route::Exports,
        path: "/exports",
        methods: "GET, POST",
        function: Function::Exports,
    },
    RouteSpec {
        route: Route::Campaigns,
        path: "/campaigns",
        methods: "GET, POST",
        function: Function::Campaigns,
    },
    RouteSpec {
        route: Route::Campaign,
        path: "/campaigns/{campaign_id}",
        methods: "GET, PUT, DELETE",
        function: Function::Campaigns,
    },
    RouteSpec {
        route: Route::CampaignCodesExport,
        path: "/campaigns/{campaign_id}/codes-export",
        methods: "POST",
        function: Function::Campaigns,
    },
    RouteSpec {
        route: Route::CampaignImport,
        path: "/campaigns/{campaign_id}/import",
        methods: "POST",
        function: Function::Campaigns,
    },
    RouteSpec {
        route: Route::CampaignCodes,
        path: "/campaigns/{campaign_id}/codes",
        methods: "DELETE",
        function: Function::Campaigns,
    },
    RouteSpec {
        route: Route::Redemptions,
        path: "/redemptions",
        methods: "GET",
        function: Function::Redemptions,
    },
    RouteSpec {
        route: Route::Redemption,
        path: "/redemptions/{redemption_id}",
        methods: "GET",
        function: Function::Redemptions,
    },
    RouteSpec {
        route: Route::Stats,
        path: "/stats",
        methods: "GET",
        function: Function::Redemptions,
    },
    RouteSpec {
        route: Route::Console,
        path: "/console",
        methods: "GET",
        function: Function::Console,
    },
    RouteSpec {
        route: Route::ConsoleAsset,
        path: "/console/{asset}",
        methods: "GET",
        function: Function::Console,
    },
    RouteSpec {
        route: Route::Webhooks,
        path: "/webhooks",
        methods: "GET, POST",
        function: Function::Webhooks,
    },
    RouteSpec {
        route: Route::WebhookSecretRotation,
        path: "/webhooks/{webhook_id}/rotate-secret",
        methods: "POST",
        function: Function::Webhooks,
    },
    RouteSpec {
        route: Route::WebhookDeliveries,
        path: "/webhooks/{webhook_id}/deliveries",
        methods: "GET",
        function: Function::Webhooks,
    },
    RouteSpec {
        route: Route::Webhook,
        path: "/webhooks/{webhook_id}",
        methods: "GET, DELETE",
        function: Function::Webhooks,
    },
];

/// The route a path matched, and the value of its one `{parameter}`.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    pub spec: &'static RouteSpec,
    param: Option<&'a str>,
}

impl<'a> Matched<'a> {
    pub fn route(&self) -> Route {
        self.spec.route
    }

    /// The path parameter (`{code}`, `{job_id}`, ...); empty for a route
    /// without one.
    pub fn param(&self) -> &'a str {
        self.param.unwrap_or_default()
    }
}

/// The route of a request's path. Empty segments are skipped, so
/// `/coupon/` and `/coupon` match alike (the seed's examples end in `/`).
pub fn recognise(req: &Request) -> Option<Matched<'_>> {
    recognise_path(raw_path(req))
}

pub fn recognise_path(path: &str) -> Option<Matched<'_>> {
    'routes: for spec in ROUTES {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let mut param = None;
        for part in spec.path.split('/').filter(|s| !s.is_empty()) {
            let Some(segment) = segments.next() else {
                continue 'routes;
            };
            if part.starts_with('{') {
                param = Some(segment);
            } else if part != segment {
                continue 'routes;
            }
        }
        if segments.next().is_none() {
            return Some(Matched { spec, param });
        }
    }
    None
}

/// The label of a request's route in logs and metrics: `POST /coupon/consume`;
/// bounded (`/{unknown}`) so that a metric dimension cannot take unbounded values.
pub fn label(method: &Method, matched: Option<&Matched<'_>>) -> String {
    let path = matched.map_or("/{unknown}", |m| m.spec.path);
    format!("{method} {path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_finds_its_route_and_parameter() {
        let cases = [
            ("/ping", Route::Ping, ""),
            ("/coupon/", Route::Coupons, ""),
            ("/coupon", Route::Coupons, ""),
            ("/coupon/AYSB23X2/", Route::Coupon, "AYSB23X2"),
            ("/coupon/consume/", Route::Consume, ""),
            ("/coupon/reserve", Route::Reservations, ""),
            ("/coupon/assign/", Route::Assign, ""),
            ("/coupon/reserve/r-1", Route::Reservation, "r-1"),
            ("/coupon/consume/x-1/rollback/", Route::Rollback, "x-1"),
            ("/coupon/jobs/j-1", Route::Job, "j-1"),
            ("/coupon/jobs/j-1/codes", Route::JobCodes, "j-1"),
            ("/coupon/jobs/j-1/skipped", Route::JobSkipped, "j-1"),
            ("/campaigns/cmp_1/import", Route::CampaignImport, "cmp_1"),
            ("/campaigns/cmp_1/codes/", Route::CampaignCodes, "cmp_1"),
            ("/exports", Route::Exports, ""),
            ("/redemptions/", Route::Redemptions, ""),
            ("/redemptions/r-1", Route::Redemption, "r-1"),
            ("/stats", Route::Stats, ""),
            ("/console/", Route::Console, ""),
            ("/console/app.js", Route::ConsoleAsset, "app.js"),
            ("/webhooks/", Route::Webhooks, ""),
            ("/webhooks/wh_1", Route::Webhook, "wh_1"),
            (
                "/webhooks/wh_1/rotate-secret",
                Route::WebhookSecretRotation,
                "wh_1",
            ),
            (
                "/webhooks/wh_1/deliveries/",
                Route::WebhookDeliveries,
                "wh_1",
            ),
            ("/campaigns/", Route::Campaigns, ""),
            ("/campaigns/cmp_1", Route::Campaign, "cmp_1"),
            (
                "/campaigns/cmp_1/codes-export/",
                Route::CampaignCodesExport,
                "cmp_1",
            ),
            // A code may be spelled like a route's literal segment only
            // where no literal route is: `/coupon/jobs` is a code.
            ("/coupon/jobs", Route::Coupon, "jobs"),
        ];
        for (path, route, param) in cases {
            let matched = recognise_path(path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!((matched.route(), matched.param()), (route, param), "{path}");
        }
        for path in [
            "/",
            "/coupon/a/b",
            "/coupon/consume/x",
            "/exports/x",
            "/pingx",
        ] {
            assert!(recognise_path(path).is_none(), "{path}");
        }
    }

    #[test]
    fn every_route_is_declared_once() {
        let mut paths: Vec<_> = ROUTES.iter().map(|r| r.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ROUTES.len());
    }
}
