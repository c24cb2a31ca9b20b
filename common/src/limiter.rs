//! Token-bucket rate limiting as GCRA ("generic cell rate algorithm").
//!
//! A bucket is one number, its *theoretical arrival time* (TAT, microseconds
//! since the epoch): the instant at which it would be full again. A request
//! at `now` is allowed when `max(TAT, now) + T - now <= burst * T`, where `T`
//! is the time to earn one token, and then moves TAT to `max(TAT, now) + T`.
//! DynamoDB cannot compute `max` in an update, so there are two conditional
//! forms, each one `UpdateItem`:
//!
//! - *idle* (TAT <= now): `SET tat = now + T` if `tat` is missing or `<= now`;
//! - *busy* (TAT > now): `SET tat = tat + T` if `now < tat <= now + (burst-1)*T`.
//!
//! A per-instance hint (the last TAT seen) picks the likely form, so the
//! common case is one write. When the condition fails, the old item that
//! comes back with the failure says whether to try the other form or to
//! refuse, and for how long. Every write is conditional on the state it
//! assumes, so concurrent instances never let more through than the rule.

use std::future::Future;
use std::time::Duration;

use crate::cache::TtlCache;
use crate::store::StoreResult;

/// A bucket: one token earned every `interval_us`, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub interval_us: i64,
    pub burst: u32,
}

impl Rule {
    pub fn per_second(rate: u32, burst: u32) -> Rule {
        Rule {
            interval_us: 1_000_000 / i64::from(rate.max(1)),
            burst: burst.max(1),
        }
    }

    pub fn every(interval: Duration, burst: u32) -> Rule {
        Rule {
            interval_us: interval.as_micros().max(1) as i64,
            burst: burst.max(1),
        }
    }

    /// The latest TAT at which one more request still fits.
    fn busy_limit(self, now: i64) -> i64 {
        now + (i64::from(self.burst) - 1) * self.interval_us
    }
}

/// Which conditional update to attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Idle,
    Busy,
}

/// One attempt at taking a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Taken; the bucket's new TAT.
    Taken(i64),
    /// The condition failed; the bucket's TAT now (none: a new bucket).
    Refused(Option<i64>),
}

/// The conditional writes a bucket needs, and the block a bucket's owner
/// may be under; DynamoDB implements them.
pub trait BucketStore: Send + Sync {
    fn attempt(
        &self,
        key: &str,
        form: Form,
        rule: Rule,
        now: i64,
    ) -> impl Future<Output = StoreResult<Attempt>> + Send;

    /// Marks `key`'s owner blocked until `until` (microseconds).
    fn block(&self, key: &str, until: i64) -> impl Future<Output = StoreResult<()>> + Send;

    /// Until when `key`'s owner is blocked, if it ever was.
    fn blocked_until(&self, key: &str) -> impl Future<Output = StoreResult<Option<i64>>> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: u32, full_in: Duration },
    Limited { retry_after: Duration },
}

impl Decision {
    /// This request took the bucket's last token, or found none.
    pub fn emptied(self) -> bool {
        matches!(
            self,
            Decision::Allowed { remaining: 0, .. } | Decision::Limited { .. }
        )
    }
}

/// Races between instances can invalidate the chosen form more than once.
const ATTEMPTS: usize = 4;

/// Takes a token from `key`'s bucket under `rule`.
pub async fn take(
    store: &impl BucketStore,
    hints: &Hints,
    key: &str,
    rule: Rule,
    clock: impl Fn() -> i64,
) -> StoreResult<Decision> {
    let mut now = clock();
    let mut form = hints.form(key, now);
    for _ in 0..ATTEMPTS {
        match store.attempt(key, form, rule, now).await? {
            Attempt::Taken(tat) => {
                hints.remember(key, tat);
                return Ok(allowed(rule, now, tat));
            }
            Attempt::Refused(tat) => {
                let tat = tat.unwrap_or(now);
                hints.remember(key, tat);
                if tat > rule.busy_limit(now) {
                    // Refuse only by the time now, not when the write was
                    // built: the SDK may have retried it for seconds
                    // (throttling) while others moved the bucket on.
                    let later = clock();
                    if tat > rule.busy_limit(later) {
                        return Ok(Decision::Limited {
                            retry_after: micros(tat - rule.busy_limit(later)),
                        });
                    }
                    now = later;
                }
                // Otherwise the same `now` again: under contention a fixed
                // time keeps the busy form valid while others take tokens.
                form = if tat <= now { Form::Idle } else { Form::Busy };
            }
        }
    }
    // The bucket kept changing under us: it is that contended, so refuse briefly.
    Ok(Decision::Limited {
        retry_after: micros(rule.interval_us),
    })
}

fn allowed(rule: Rule, now: i64, tat: i64) -> Decision {
    let capacity = i64::from(rule.burst) * rule.interval_us;
    let remaining =
        ((now + capacity - tat) / rule.interval_us).clamp(0, i64::from(rule.burst)) as u32;
    Decision::Allowed {
        remaining,
        full_in: micros(tat - now),
    }
}

pub fn micros(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}

/// Last TAT seen per bucket, per warm instance: only a guess at the form,
/// so forgetting one costs at most a second write.
pub struct Hints(TtlCache<String, i64>);

impl Default for Hints {
    fn default() -> Self {
        Hints(TtlCache::new(Duration::from_secs(3600), 10_000))
    }
}

impl Hints {
    fn form(&self, key: &str, now: i64) -> Form {
        match self.0.get(key) {
            Some(tat) if tat > now => Form::Busy,
            _ => Form::Idle,
        }
    }

    fn remember(&self, key: &str, tat: i64) {
        self.0.insert(key.to_owned(), tat);
    }
}

/// Seconds, rounded up, for `Retry-After` and `RateLimit-Reset`.
pub fn whole_seconds(duration: Duration) -> u64 {
    duration.as_micros().div_ceil(1_000_000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex as StdMutex;

    /// A bucket held in memory with DynamoDB's conditional semantics, to
    /// check the algorithm alone (the DynamoDB store has its own tests).
    #[derive(Default)]
    struct Memory(StdMutex<HashMap<String, Option<i64>>>);

    impl BucketStore for Memory {
        async fn attempt(
            &self,
            key: &str,
            form: Form,
            rule: Rule,
            now: i64,
        ) -> StoreResult<Attempt> {
            let mut buckets = self.0.lock().unwrap();
            let state = buckets.entry(key.to_owned()).or_default();
            let ok = match (form, *state) {
                (Form::Idle, None) => true,
                (Form::Idle, Some(tat)) => tat <= now,
                (Form::Busy, None) => false,
                (Form::Busy, Some(tat)) => tat > now && tat <= rule.busy_limit(now),
            };
            if !ok {
                return Ok(Attempt::Refused(*state));
            }
            let tat = match form {
                Form::Idle => now + rule.interval_us,
                Form::Busy => state.unwrap() + rule.interval_us,
            };
            *state = Some(tat);
            Ok(Attempt::Taken(tat))
        }

        async fn block(&self, _: &str, _: i64) -> StoreResult<()> {
            Ok(())
        }

        async fn blocked_until(&self, _: &str) -> StoreResult<Option<i64>> {
            Ok(None)
        }
    }

    fn run(store: &Memory, hints: &Hints, rule: Rule, now: i64) -> Decision {
        futures_util::FutureExt::now_or_never(take(store, hints, "k", rule, || now))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_burst_then_the_rate() {
        let (store, hints) = (Memory::default(), Hints::default());
        let rule = Rule::per_second(5, 5);
        let allowed = (0..40)
            .filter(|_| matches!(run(&store, &hints, rule, 0), Decision::Allowed { .. }))
            .count();
        assert_eq!(allowed, 5);
        match run(&store, &hints, rule, 0) {
            Decision::Limited { retry_after } => {
                assert_eq!(retry_after, Duration::from_millis(200))
            }
            other => panic!("{other:?}"),
        }
        // One token back after 200 ms, the whole bucket after a second.
        assert!(matches!(
            run(&store, &hints, rule, 200_000),
            Decision::Allowed { remaining: 0, .. }
        ));
        assert!(matches!(
            run(&store, &hints, rule, 1_400_000),
            Decision::Allowed { remaining: 4, .. }
        ));
    }

    #[test]
    fn remaining_counts_down() {
        let (store, hints) = (Memory::default(), Hints::default());
        let rule = Rule::per_second(10, 3);
        let remaining: Vec<u32> = (0..3)
            .map(|_| match run(&store, &hints, rule, 0) {
                Decision::Allowed { remaining, .. } => remaining,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
    }

    proptest::proptest! {
        /// Over any schedule, no more than burst + elapsed * rate get through.
        #[test]
        fn never_more_than_the_rule_allows(
            gaps in proptest::collection::vec(0i64..400_000, 1..200),
            rate in 1u32..50,
            burst in 1u32..20,
        ) {
            let (store, hints) = (Memory::default(), Hints::default());
            let rule = Rule::per_second(rate, burst);
            let mut now = 1_000_000_000;
            let start = now;
            let mut allowed = 0i64;
            for gap in gaps {
                now += gap;
                if matches!(run(&store, &hints, rule, now), Decision::Allowed { .. }) {
                    allowed += 1;
                }
            }
            let bound = i64::from(burst) + (now - start) / rule.interval_us;
            proptest::prop_assert!(allowed <= bound, "{allowed} > {bound}");
        }
    }
}
