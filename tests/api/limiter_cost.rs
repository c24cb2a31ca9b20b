//! Write units per limiter check, counted by the SDK interceptor against
//! moto (`make bench`; not part of `make test`). Time is simulated, so the
//! traffic patterns are exact and the run takes only as long as moto does.

use common::limiter::{self, Decision, Hints, Rule};
use common::store::DynamoStore;

use crate::helpers::*;

const CHECKS: i64 = 1_000;

struct Pattern {
    name: &'static str,
    /// Microseconds between checks.
    gap_us: i64,
    /// Warm Lambda instances taking turns, each with its own hints.
    instances: usize,
}

#[tokio::test]
#[ignore = "benchmark: run by `make bench`"]
async fn limiter_write_units_per_check() {
    let counter = RequestCounter::default();
    let t = TestApp::with(Options {
        counter: Some(counter.clone()),
        ..Options::default()
    })
    .await;
    let store = DynamoStore::new(t.client.clone(), &t.table);
    let rule = Rule::per_second(100, 100);
    let pattern = |name, gap_us, instances| Pattern {
        name,
        gap_us,
        instances,
    };
    let patterns = [
        pattern("steady, half the rate (50/s)", 20_000, 1),
        pattern("saturated, twice the rate (200/s)", 5_000, 1),
        pattern("sparse, bucket always full (1 per 2 s)", 2_000_000, 1),
        pattern("near the rate (90/s), 4 instances in turn", 11_111, 4),
        pattern("saturated (200/s), 4 instances in turn", 5_000, 4),
    ];
    println!(
        "| traffic (rule 100/s, burst 100) | checks | allowed | UpdateItem calls | writes per check | WCU per million checks |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, pattern) in patterns.iter().enumerate() {
        let hints: Vec<Hints> = (0..pattern.instances).map(|_| Hints::default()).collect();
        let key = format!("bench#{i}");
        let mut now = 1_800_000_000_000_000;
        let mut allowed = 0;
        counter.take();
        for check in 0..CHECKS {
            now += pattern.gap_us;
            let instance = &hints[check as usize % pattern.instances];
            let decision = limiter::take(&store, instance, &key, rule, || now)
                .await
                .unwrap();
            if matches!(decision, Decision::Allowed { .. }) {
                allowed += 1;
            }
        }
        let writes = counter
            .take()
            .iter()
            .filter(|op| *op == "UpdateItem")
            .count() as i64;
        println!(
            "| {} | {CHECKS} | {allowed} | {writes} | {:.3} | {} |",
            pattern.name,
            writes as f64 / CHECKS as f64,
            writes * 1_000_000 / CHECKS
        );
        // One write per check, two when an instance's hint picked the wrong form.
        assert!(
            writes <= 2 * CHECKS,
            "{}: {writes} writes for {CHECKS} checks",
            pattern.name
        );
    }
}
