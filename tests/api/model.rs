//! Every ordering, checked against a model: random sequences of 20 to 50
//! operations over three codes (create, plain or as a code of one
//! campaign, update, delete, re-create, reserve, release, consume plain,
//! with a reservation and with an `Idempotency-Key`, keyed retries,
//! rollback, validate, the campaign's budgets and switch changed, codes
//! imported into the campaign and all its codes deleted by jobs, the
//! campaign's unassigned codes handed to customers (and those assignments
//! retried), the clock moving on, the instance's coupon cache running out) drive the
//! real handlers against moto. After every step the table is read whole and held against
//! what the answers so far say must be true:
//!
//! - no counter below zero, and every code's details readable;
//! - for each live coupon (one incarnation of a code): uses consumed =
//!   consume rows - reversal rows of that incarnation; uses held =
//!   reservations held for it; uses left + consumed + held = uses given;
//!   each customer's count = their counted uses and holds;
//! - an operation on a deleted code, or with a reservation of an earlier
//!   incarnation, never succeeds; a deleted code leaves no coupon item;
//! - a keyed retry of a request that succeeded answers its first response
//!   byte for byte;
//! - `exhausted` only when no use is left;
//! - a code assigned to a customer is that customer's alone: anyone else's
//!   validate, reserve or consume is the unknown code's 404; an assignment
//!   takes a code only from the pool (the campaign's unassigned codes), a
//!   retried one answers its code while that coupon lives, and the stored
//!   owner and index keys say the same;
//! - the campaign's budget shards add up to its log rows and held
//!   reservations (uses and discount), never spend past a budget, have
//!   exactly the room a budget leaves, and its `coupon_count` is its live
//!   codes; `budget_exhausted` only when a budget has no room left.
//!
//! After the last step, the events the table's stream gives are the log's
//! rows, each once (`Run::check_events`).
//!
//! A failure shrinks to a short sequence and prints it as a list of
//! operations. `MODEL_CASES` sets the number of sequences (default 24, what
//! `make test` runs), `MODEL_SEED` fixes the random seed (`make soak`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use common::code::CouponCode;
use common::event::{Event, EventType};
use common::event_source::events_of;
use common::limits::GuessingPolicy;
use common::stats::DayRange;
use common::store::{DeliveryStore, StatsStore, schema};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::{Value, json};

use crate::helpers::*;

const CODES: [&str; 3] = ["MODEL-A", "MODEL-B", "MODEL-C"];
const CUSTOMERS: [&str; 2] = ["ann", "bob"];
/// Order amounts (whole units) and the one minimum order a coupon may have.
const ORDERS: [u32; 2] = [10, 50];
const MIN_ORDER: u32 = 20;
/// The campaign's use budget at the start (its codes' discount is 10 %).
const CAMPAIGN_BUDGET_USES: u64 = 4;

#[derive(Debug, Clone)]
enum Op {
    Create {
        code: usize,
        uses: u64,
        high_demand: bool,
        per_customer: Option<u64>,
        min_order: bool,
        /// A code of the campaign (which gives its terms; `per_customer`
        /// and `min_order` are not sent).
        in_campaign: bool,
    },
    Update {
        code: usize,
        change: Change,
    },
    Delete {
        code: usize,
    },
    Validate {
        code: usize,
        customer: Option<usize>,
    },
    Reserve {
        code: usize,
        customer: Option<usize>,
        order: Option<usize>,
        ttl_seconds: u64,
    },
    /// `DELETE /coupon/reserve/{id}` of an earlier reservation (by index,
    /// modulo the number made; a made-up id when there is none).
    Release {
        reservation: usize,
    },
    Consume {
        code: usize,
        customer: Option<usize>,
        order: Option<usize>,
        /// Converts an earlier reservation (by index, as for `Release`).
        reservation: Option<usize>,
        keyed: bool,
    },
    /// Sends an earlier keyed consume again, key and parameters unchanged.
    Retry {
        request: usize,
    },
    Rollback {
        redemption: usize,
    },
    /// The clock moves on: past short reservations, or a coupon's expiry.
    Advance {
        seconds: i64,
    },
    /// The instance's cache of recently read coupons runs out.
    Lapse,
    /// Codes imported into the campaign by a job, each with `uses`.
    Import {
        codes: Vec<usize>,
        uses: u64,
    },
    /// Every code of the campaign deleted by a job.
    DeleteCampaignCodes,
    /// `POST /coupon/assign`: a pool code for `customer`, with the shop's
    /// `source` id (few, so retries happen).
    Assign {
        customer: usize,
        source: usize,
    },
    /// `PUT /campaigns/{id}`.
    Campaign {
        change: CampaignChange,
    },
}

#[derive(Debug, Clone)]
enum CampaignChange {
    /// `budget_uses`: none, or a number (0 is refused).
    Uses(Option<u64>),
    /// `budget_amount` in whole units: none, or a number.
    Amount(Option<u32>),
    Active(bool),
}

#[derive(Debug, Clone)]
enum Change {
    Uses(u64),
    MinOrder(bool),
    PerCustomer(Option<u64>),
    /// An expiry this many seconds from now, or none.
    ExpiresIn(Option<i64>),
    Active(bool),
}

fn op() -> impl Strategy<Value = Op> {
    let code = 0..CODES.len();
    let customer = proptest::option::of(0..CUSTOMERS.len());
    let order = proptest::option::of(0..ORDERS.len());
    let change = prop_oneof![
        (0u64..4).prop_map(Change::Uses),
        any::<bool>().prop_map(Change::MinOrder),
        proptest::option::of(1u64..3).prop_map(Change::PerCustomer),
        proptest::option::of(prop_oneof![Just(20i64), Just(3_600)]).prop_map(Change::ExpiresIn),
        any::<bool>().prop_map(Change::Active),
    ];
    let campaign = prop_oneof![
        proptest::option::of(0u64..7).prop_map(CampaignChange::Uses),
        proptest::option::of(prop_oneof![Just(3u32), Just(12)]).prop_map(CampaignChange::Amount),
        any::<bool>().prop_map(CampaignChange::Active),
    ];
    prop_oneof![
        3 => (code.clone(), 1u64..4, any::<bool>(), proptest::option::of(1u64..3), proptest::bool::weighted(0.2), proptest::bool::weighted(0.4))
            .prop_map(|(code, uses, high_demand, per_customer, min_order, in_campaign)| Op::Create {
                code, uses, high_demand, per_customer, min_order, in_campaign
            }),
        2 => (code.clone(), change).prop_map(|(code, change)| Op::Update { code, change }),
        2 => code.clone().prop_map(|code| Op::Delete { code }),
        1 => (code.clone(), customer.clone()).prop_map(|(code, customer)| Op::Validate { code, customer }),
        3 => (code.clone(), customer.clone(), order.clone(), prop_oneof![Just(1u64), Just(60), Just(3_600)])
            .prop_map(|(code, customer, order, ttl_seconds)| Op::Reserve { code, customer, order, ttl_seconds }),
        1 => (0usize..8).prop_map(|reservation| Op::Release { reservation }),
        6 => (code, customer, order, proptest::option::weighted(0.3, 0usize..8), any::<bool>())
            .prop_map(|(code, customer, order, reservation, keyed)| Op::Consume {
                code, customer, order, reservation, keyed
            }),
        2 => (0usize..8).prop_map(|request| Op::Retry { request }),
        2 => (0usize..8).prop_map(|redemption| Op::Rollback { redemption }),
        1 => prop_oneof![Just(2i64), Just(90), Just(4_000)].prop_map(|seconds| Op::Advance { seconds }),
        1 => Just(Op::Lapse),
        1 => campaign.prop_map(|change| Op::Campaign { change }),
        1 => (proptest::sample::subsequence((0..CODES.len()).collect::<Vec<_>>(), 1..=CODES.len()), 1u64..4)
            .prop_map(|(codes, uses)| Op::Import { codes, uses }),
        1 => Just(Op::DeleteCampaignCodes),
        2 => (0..CUSTOMERS.len(), 0usize..2).prop_map(|(customer, source)| Op::Assign { customer, source }),
    ]
}

/// One incarnation of a code: the coupon that lives under it now.
#[derive(Debug, Clone)]
struct Live {
    created_at: i64,
    /// Uses it was given: at create, and again by `PUT availability_count`.
    given: i64,
    /// A code of the campaign.
    campaign: bool,
    high_demand: bool,
    /// The customer it was assigned to.
    owner: Option<usize>,
}

impl Live {
    /// One of the campaign's unassigned codes, which assignments take.
    fn in_pool(&self) -> bool {
        self.campaign && !self.high_demand && self.owner.is_none()
    }

    /// Another customer's code (or `customer` is none): it must answer
    /// as if it did not exist.
    fn hidden_from(&self, customer: Option<usize>) -> bool {
        self.owner.is_some_and(|owner| customer != Some(owner))
    }
}

struct Reservation {
    id: String,
    created_at: i64,
    customer: Option<usize>,
}

struct Keyed {
    code: usize,
    customer: Option<usize>,
    key: String,
    fields: Value,
    reservation: Option<usize>,
    /// The answer of the first attempt that succeeded, byte for byte.
    first_success: Option<Vec<u8>>,
}

/// The service under test and what its answers so far say must be true.
struct Run {
    t: TestApp,
    live: [Option<Live>; 3],
    reservations: Vec<Reservation>,
    redemptions: Vec<String>,
    keyed: Vec<Keyed>,
    /// When the current operation began, by the service's clock.
    began: chrono::DateTime<chrono::Utc>,
    /// The one campaign's id.
    campaign: String,
    /// Assignments by (customer, source): the code and the coupon (its
    /// `created_at`) they took.
    assignments: HashMap<(usize, usize), (usize, i64)>,
}

type Checked = Result<(), String>;

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Checked {
    if condition { Ok(()) } else { Err(what()) }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// Attributes that count something and so may never go below zero (a
/// budget shard's room only where it has that budget).
const COUNTERS: [&str; 9] = [
    "uses_left",
    "redeemed_count",
    "reserved_count",
    "uses",
    "live",
    "coupon_count",
    "discount_total",
    "held_uses",
    "held_amount",
];

fn flag(item: &HashMap<String, AttributeValue>, name: &str) -> bool {
    item.get(name)
        .is_some_and(|v| v.as_bool().is_ok_and(|b| *b))
}

impl Run {
    async fn new() -> Run {
        // Lookups of deleted codes are part of the game, not guessing.
        let generous = common::limiter::Rule::per_second(1_000, 100_000);
        let t = TestApp::with(Options {
            guessing: GuessingPolicy {
                per_tenant: generous,
                per_identity: generous,
                under_pressure: generous,
                ..GuessingPolicy::default()
            },
            ..Options::default()
        })
        .await;
        let made = t
            .send(post("/campaigns").token(&t.token_a).json(json!({
                "name": "Model", "discount_percent": "10", "currency": "EUR",
                "budget_uses": CAMPAIGN_BUDGET_USES,
            })))
            .await;
        let campaign = made.expect(201).string("campaign_id");
        Run {
            t,
            live: [None, None, None],
            reservations: Vec::new(),
            redemptions: Vec::new(),
            keyed: Vec::new(),
            began: chrono::Utc::now(),
            campaign,
            assignments: HashMap::new(),
        }
    }

    async fn apply(&mut self, op: &Op) -> Checked {
        // Holds that expired before the request began must have come back
        // before it answers `exhausted` (later ones may or may not have).
        self.began = self.t.app().clock.now();
        match op {
            Op::Create {
                code,
                uses,
                high_demand,
                per_customer,
                min_order,
                in_campaign,
            } => {
                let mut fields = json!({
                    "code": CODES[*code],
                    "availability_count": uses,
                    "high_demand": high_demand,
                });
                if *in_campaign {
                    fields["campaign_id"] = json!(self.campaign);
                } else {
                    fields["discount_percent"] = json!("10");
                    if let Some(max) = per_customer {
                        fields["max_uses_per_customer"] = json!(max);
                    }
                    if *min_order {
                        fields["min_order_amount"] = json!(MIN_ORDER.to_string());
                    }
                }
                let r = self
                    .t
                    .send(post("/coupon").token(&self.t.token_a).json(fields))
                    .await;
                if self.live[*code].is_some() {
                    ensure(r.status == 409, || {
                        format!("create of a live code: {}", describe(&r))
                    })
                } else {
                    ensure(r.status == 201, || format!("create: {}", describe(&r)))?;
                    let created_at = self.stored_created_at(*code).await?;
                    self.live[*code] = Some(Live {
                        created_at,
                        given: *uses as i64,
                        campaign: *in_campaign,
                        high_demand: *high_demand,
                        owner: None,
                    });
                    Ok(())
                }
            }
            Op::Update { code, change } => {
                let fields = match change {
                    Change::Uses(n) => json!({"availability_count": n}),
                    Change::MinOrder(true) => json!({"min_order_amount": MIN_ORDER.to_string()}),
                    Change::MinOrder(false) => json!({"min_order_amount": null}),
                    Change::PerCustomer(max) => json!({"max_uses_per_customer": max}),
                    Change::ExpiresIn(Some(seconds)) => {
                        let at = self.t.app().clock.now() + chrono::Duration::seconds(*seconds);
                        json!({"expiry_date": common::dates::format(at)})
                    }
                    Change::ExpiresIn(None) => json!({"expiry_date": null}),
                    Change::Active(active) => json!({"active": active}),
                };
                let r = self
                    .t
                    .send(
                        put(&format!("/coupon/{}", CODES[*code]))
                            .token(&self.t.token_a)
                            .json(fields),
                    )
                    .await;
                let Some(live) = &self.live[*code] else {
                    return ensure(r.status == 404, || {
                        format!("update of a deleted code: {}", describe(&r))
                    });
                };
                // A campaign code's terms are the campaign's.
                let own = matches!(change, Change::Uses(_) | Change::Active(_));
                if live.campaign && !own {
                    return ensure(r.status == 422, || {
                        format!("a term of a campaign code changed: {}", describe(&r))
                    });
                }
                ensure(r.status == 200, || format!("update: {}", describe(&r)))?;
                if let Change::Uses(n) = change {
                    let books = self.books(*code).await?;
                    if let Some(live) = &mut self.live[*code] {
                        live.given = *n as i64 + books.redeemed + books.reserved;
                    }
                }
                Ok(())
            }
            Op::Delete { code } => {
                let r = self
                    .t
                    .send(delete(&format!("/coupon/{}", CODES[*code])).token(&self.t.token_a))
                    .await;
                let expected = if self.live[*code].take().is_some() {
                    204
                } else {
                    404
                };
                ensure(r.status == expected, || format!("delete: {}", describe(&r)))
            }
            Op::Import { codes, uses } => {
                let csv: String = codes
                    .iter()
                    .map(|&code| format!("{},{uses}\n", CODES[code]))
                    .collect();
                let r = self
                    .t
                    .send(
                        post(&format!("/campaigns/{}/import", self.campaign))
                            .token(&self.t.token_a)
                            .raw("text/csv", &csv),
                    )
                    .await;
                ensure(r.status == 202, || format!("import: {}", describe(&r)))?;
                let job = self.run_job(&r.string("job_id")).await?;
                let (taken, new): (Vec<usize>, Vec<usize>) =
                    codes.iter().partition(|&&code| self.live[code].is_some());
                ensure(
                    job["created"] == json!(new.len()) && job["skipped"] == json!(taken.len()),
                    || format!("import of {codes:?} with {taken:?} live: {job}"),
                )?;
                for code in new {
                    let created_at = self.stored_created_at(code).await?;
                    self.live[code] = Some(Live {
                        created_at,
                        given: *uses as i64,
                        campaign: true,
                        high_demand: false,
                        owner: None,
                    });
                }
                Ok(())
            }
            Op::DeleteCampaignCodes => {
                let r = self
                    .t
                    .send(
                        delete(&format!("/campaigns/{}/codes", self.campaign))
                            .token(&self.t.token_a),
                    )
                    .await;
                ensure(r.status == 202, || {
                    format!("delete campaign codes: {}", describe(&r))
                })?;
                let job = self.run_job(&r.string("job_id")).await?;
                let mut deleted = 0;
                for live in &mut self.live {
                    if live.as_ref().is_some_and(|l| l.campaign) {
                        *live = None;
                        deleted += 1;
                    }
                }
                ensure(job["deleted"] == json!(deleted), || {
                    format!("delete of the campaign's {deleted} live codes: {job}")
                })
            }
            Op::Assign { customer, source } => {
                let r = self
                    .t
                    .send(post("/coupon/assign").token(&self.t.token_a).json(json!({
                        "campaign_id": self.campaign,
                        "customer_id": CUSTOMERS[*customer],
                        "source_id": format!("src-{source}"),
                    })))
                    .await;
                not_a_fault(&r)?;
                if let Some(&(code, created_at)) = self.assignments.get(&(*customer, *source)) {
                    // A retry: its code while that coupon lives, else gone.
                    let lives = self.live[code]
                        .as_ref()
                        .is_some_and(|l| l.created_at == created_at);
                    return match lives {
                        true => ensure(r.status == 200 && r.json()["code"] == CODES[code], || {
                            format!("a retried assignment of {}: {}", CODES[code], describe(&r))
                        }),
                        false => ensure(r.status == 404, || {
                            format!("a retried assignment of a deleted code: {}", describe(&r))
                        }),
                    };
                }
                let pool: Vec<usize> = (0..CODES.len())
                    .filter(|&c| self.live[c].as_ref().is_some_and(Live::in_pool))
                    .collect();
                if pool.is_empty() {
                    return ensure(r.status == 409 && r.json()["code"] == "pool_empty", || {
                        format!("an assignment from an empty pool: {}", describe(&r))
                    });
                }
                ensure(r.status == 201, || {
                    format!("assign from {pool:?}: {}", describe(&r))
                })?;
                let code = CODES
                    .iter()
                    .position(|c| r.json()["code"] == *c)
                    .filter(|c| pool.contains(c))
                    .ok_or_else(|| {
                        format!("assigned a code not in the pool {pool:?}: {}", r.text())
                    })?;
                let live = self.live[code].as_mut().ok_or("assigned a deleted code")?;
                live.owner = Some(*customer);
                let incarnation = live.created_at;
                self.assignments
                    .insert((*customer, *source), (code, incarnation));
                Ok(())
            }
            Op::Validate { code, customer } => {
                let mut query = format!("/coupon/consume?code={}", CODES[*code]);
                if let Some(c) = customer {
                    query.push_str(&format!("&customer_id={}", CUSTOMERS[*c]));
                }
                let r = self.t.send(get(&query).token(&self.t.token_a)).await;
                let shown = self.live[*code]
                    .as_ref()
                    .is_some_and(|l| !l.hidden_from(*customer));
                let expected = if shown { 200 } else { 404 };
                ensure(r.status == expected, || {
                    format!("validate: {}", describe(&r))
                })
            }
            Op::Reserve {
                code,
                customer,
                order,
                ttl_seconds,
            } => {
                let mut fields = json!({"code": CODES[*code], "ttl_seconds": ttl_seconds});
                add_customer_and_order(&mut fields, *customer, *order);
                let r = self
                    .t
                    .send(post("/coupon/reserve").token(&self.t.token_a).json(fields))
                    .await;
                not_a_fault(&r)?;
                self.hidden_only_to_others(*code, *customer, &r)?;
                if r.status == 201 {
                    let live = self.live[*code]
                        .as_ref()
                        .ok_or_else(|| format!("reserved a deleted code: {}", r.text()))?;
                    self.reservations.push(Reservation {
                        id: r.string("reservation_id"),
                        created_at: live.created_at,
                        customer: *customer,
                    });
                } else {
                    self.refused_only_when_right(*code, None, &r).await?;
                }
                Ok(())
            }
            Op::Release { reservation } => {
                let id = self.reservation_id(*reservation);
                let r = self
                    .t
                    .send(delete(&format!("/coupon/reserve/{id}")).token(&self.t.token_a))
                    .await;
                not_a_fault(&r)
            }
            Op::Consume {
                code,
                customer,
                order,
                reservation,
                keyed,
            } => {
                let mut fields = json!({"code": CODES[*code]});
                add_customer_and_order(&mut fields, *customer, *order);
                let reservation = reservation.and_then(|k| self.reservation_index(k));
                if let Some(k) = reservation {
                    fields["reservation_id"] = json!(self.reservations[k].id);
                }
                // Without one, a converted reservation's customer is used.
                let customer =
                    customer.or_else(|| reservation.and_then(|k| self.reservations[k].customer));
                let key = keyed.then(|| uuid::Uuid::new_v4().to_string());
                let r = self.consume(&fields, key.as_deref()).await;
                if let Some(key) = key {
                    self.keyed.push(Keyed {
                        code: *code,
                        customer,
                        key,
                        fields,
                        reservation,
                        first_success: None,
                    });
                }
                self.after_consume(*code, customer, reservation, &r).await?;
                if let (Some(keyed), 200) = (self.keyed.last_mut().filter(|_| *keyed), r.status) {
                    keyed.first_success = Some(r.body.clone());
                }
                Ok(())
            }
            Op::Retry { request } => {
                if self.keyed.is_empty() {
                    return Ok(());
                }
                let k = request % self.keyed.len();
                let (fields, key) = (self.keyed[k].fields.clone(), self.keyed[k].key.clone());
                let r = self.consume(&fields, Some(&key)).await;
                if let Some(first) = &self.keyed[k].first_success {
                    ensure(
                        r.status == 200
                            && r.body == *first
                            && r.header("idempotent-replayed") == Some("true"),
                        || {
                            format!(
                                "a keyed retry did not replay its first answer {}: {}",
                                String::from_utf8_lossy(first),
                                describe(&r)
                            )
                        },
                    )?;
                    return Ok(());
                }
                let keyed = &self.keyed[k];
                let (code, customer, reservation) = (keyed.code, keyed.customer, keyed.reservation);
                self.after_consume(code, customer, reservation, &r).await?;
                if r.status == 200 {
                    self.keyed[k].first_success = Some(r.body.clone());
                }
                Ok(())
            }
            Op::Rollback { redemption } => {
                let id = if self.redemptions.is_empty() {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    self.redemptions[redemption % self.redemptions.len()].clone()
                };
                let r = self
                    .t
                    .send(post(&format!("/coupon/consume/{id}/rollback")).token(&self.t.token_a))
                    .await;
                not_a_fault(&r)?;
                if r.status == 200 {
                    // The use goes back exactly when its coupon still lives.
                    let row = self.redemption_row(&id).await?;
                    let code = CODES
                        .iter()
                        .position(|c| Some(*c) == text(&row, "code"))
                        .ok_or("a redemption of an unknown code")?;
                    let same_coupon = self.live[code].as_ref().map(|l| l.created_at)
                        == number(&row, "coupon_created_at");
                    ensure(r.json()["use_returned"] == json!(same_coupon), || {
                        format!(
                            "rollback's use_returned, coupon live: {same_coupon}: {}",
                            r.text()
                        )
                    })?;
                }
                Ok(())
            }
            Op::Advance { seconds } => {
                self.t
                    .app()
                    .clock
                    .advance(chrono::Duration::seconds(*seconds));
                Ok(())
            }
            Op::Lapse => {
                self.t.app().recent_coupons.clear();
                Ok(())
            }
            Op::Campaign { change } => {
                let fields = match change {
                    CampaignChange::Uses(uses) => json!({"budget_uses": uses}),
                    CampaignChange::Amount(amount) => {
                        json!({"budget_amount": amount.map(|a| a.to_string())})
                    }
                    CampaignChange::Active(active) => json!({"active": active}),
                };
                let before = self.campaign_books().await;
                let r = self
                    .t
                    .send(
                        put(&format!("/campaigns/{}", self.campaign))
                            .token(&self.t.token_a)
                            .json(fields),
                    )
                    .await;
                // Refused only for a budget of 0 or one below what is spent.
                let refusable = match change {
                    CampaignChange::Uses(Some(n)) => *n == 0 || (*n as i64) < before.spent_uses(),
                    CampaignChange::Amount(Some(a)) => i64::from(*a) * 100 < before.spent_amount(),
                    _ => false,
                };
                let expected = if refusable { 422 } else { 200 };
                ensure(r.status == expected, || {
                    format!("campaign change ({before:?}): {}", describe(&r))
                })
            }
        }
    }

    async fn consume(&self, fields: &Value, key: Option<&str>) -> TestResponse {
        let mut request = post("/coupon/consume").token(&self.t.token_a);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        self.t.send(request.json(fields.clone())).await
    }

    /// What a fresh consume's answer must respect.
    async fn after_consume(
        &mut self,
        code: usize,
        customer: Option<usize>,
        reservation: Option<usize>,
        r: &TestResponse,
    ) -> Checked {
        not_a_fault(r)?;
        self.hidden_only_to_others(code, customer, r)?;
        if r.status != 200 {
            return self.refused_only_when_right(code, reservation, r).await;
        }
        let live = self.live[code]
            .as_ref()
            .ok_or_else(|| format!("consumed a deleted code: {}", r.text()))?;
        if let Some(k) = reservation {
            let made_on = self.reservations[k].created_at;
            ensure(made_on == live.created_at, || {
                format!(
                    "converted a reservation of an earlier coupon under this code: {}",
                    r.text()
                )
            })?;
        }
        self.redemptions.push(r.string("redemption_id"));
        Ok(())
    }

    /// Another customer's code: never used, and refused as unknown (or,
    /// converting a reservation of another customer, 422).
    fn hidden_only_to_others(
        &self,
        code: usize,
        customer: Option<usize>,
        r: &TestResponse,
    ) -> Checked {
        let hidden = self.live[code]
            .as_ref()
            .is_some_and(|l| l.hidden_from(customer));
        ensure(!hidden || r.status == 404 || r.status == 422, || {
            format!("another customer's code answered: {}", describe(r))
        })
    }

    /// A refusal of `exhausted` means no use is left, not even one held by
    /// an expired reservation.
    async fn refused_only_when_right(
        &self,
        code: usize,
        reservation: Option<usize>,
        r: &TestResponse,
    ) -> Checked {
        if r.status == 409 && r.json()["code"] == "budget_exhausted" {
            // Room for at most a use of 5.00 (10 % of the larger order).
            let books = self.campaign_books().await;
            return ensure(
                books.uses_budget.is_some_and(|b| {
                    books.uses_left == b - books.spent_uses() && books.uses_left == 0
                }) || books.amount_budget.is_some_and(|_| books.amount_left < 500),
                || format!("refused budget_exhausted with {books:?}"),
            );
        }
        let exhausted = r.status == 409 && r.json()["code"] == "exhausted";
        if !exhausted || reservation.is_some() || self.live[code].is_none() {
            return Ok(());
        }
        let books = self.books(code).await?;
        ensure(books.left == 0 && books.expired_holds == 0, || {
            format!("refused exhausted with {books:?}")
        })
    }

    fn reservation_index(&self, k: usize) -> Option<usize> {
        (!self.reservations.is_empty()).then(|| k % self.reservations.len())
    }

    fn reservation_id(&self, k: usize) -> String {
        match self.reservation_index(k) {
            Some(k) => self.reservations[k].id.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Runs the worker, then answers the job, which must have succeeded.
    async fn run_job(&self, job_id: &str) -> Result<Value, String> {
        self.t.run_worker().await;
        let r = self
            .t
            .send(get(&format!("/coupon/jobs/{job_id}")).token(&self.t.token_a))
            .await;
        let job = r.json();
        ensure(job["status"] == "succeeded", || format!("job: {job}"))?;
        Ok(job)
    }

    async fn stored_created_at(&self, code: usize) -> Result<i64, String> {
        let items = self.scan().await;
        let pk = coupon_pk(&self.t, code);
        items
            .iter()
            .find(|i| text(i, schema::PK) == Some(&pk) && text(i, schema::SK) == Some("COUPON"))
            .and_then(|i| number(i, "created_at"))
            .ok_or_else(|| "a created coupon has no item".to_owned())
    }

    async fn redemption_row(&self, id: &str) -> Result<HashMap<String, AttributeValue>, String> {
        self.scan()
            .await
            .into_iter()
            .find(|i| text(i, "redemption_id") == Some(id) && text(i, "kind") != Some("reversal"))
            .ok_or_else(|| format!("no log row for redemption {id}"))
    }

    async fn scan(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.t.all_items().await
    }

    /// The events of the whole sequence, from the table's stream: one
    /// `redemption.succeeded` per consume row and one
    /// `redemption.rolled_back` per reversal row, whatever came between
    /// (retries, deletes, re-creates, jobs); every `coupon.exhausted` names
    /// a consume; reading the stream again gives the same ids.
    async fn check_events(&self) -> Checked {
        let records = crate::pipeline::StreamReader::new(&self.t).await.read();
        let store = &self.t.app().store;
        let events = events_of(store, &records)
            .await
            .map_err(|e| e.to_string())?;
        let again = events_of(store, &records)
            .await
            .map_err(|e| e.to_string())?;
        let ids = |events: &[Event]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        ensure(ids(&events) == ids(&again), || {
            "the same records gave other event ids".into()
        })?;
        let items = self.scan().await;
        let rows = |kind: &str| -> BTreeSet<String> {
            items
                .iter()
                .filter(|item| text(item, "type") == Some("redemption"))
                .filter(|item| text(item, "kind") == Some(kind))
                .filter_map(|item| text(item, "redemption_id").map(str::to_owned))
                .collect()
        };
        let told = |kind: EventType| -> BTreeSet<String> {
            events
                .iter()
                .filter(|e| e.kind == kind)
                .filter_map(|e| e.data["redemption_id"].as_str().map(str::to_owned))
                .collect()
        };
        let consumes = rows("consume");
        for (kind, rows) in [
            (EventType::RedemptionSucceeded, consumes.clone()),
            (EventType::RedemptionRolledBack, rows("reversal")),
        ] {
            let events = told(kind);
            ensure(events == rows, || {
                format!("{} events {events:?}, log rows {rows:?}", kind.as_str())
            })?;
        }
        let exhausted = told(EventType::CouponExhausted);
        ensure(exhausted.is_subset(&consumes), || {
            format!("coupon.exhausted naming no consume: {exhausted:?}")
        })?;
        // The day figures (`GET /stats`) kept from those events, handed
        // over twice as Lambda may, are the log's: each row once, on its day.
        for _ in 0..2 {
            store
                .mark_handed_on(&events, chrono::Utc::now())
                .await
                .map_err(|e| e.to_string())?;
        }
        let mut logged: BTreeMap<NaiveDate, [u64; 4]> = BTreeMap::new();
        for item in items
            .iter()
            .filter(|i| text(i, "type") == Some("redemption"))
        {
            let at = number(item, "consumed_at").ok_or("a log row without consumed_at")?;
            let day = common::dates::from_millis(at).date_naive();
            let discount = number(item, "discount_amount").unwrap_or(0) as u64;
            let figures = logged.entry(day).or_default();
            // Uses, reversals, discount given, discount given back.
            let (count, amount) = match text(item, "kind") {
                Some("consume") => (0, 2),
                _ => (1, 3),
            };
            figures[count] += 1;
            figures[amount] += discount;
        }
        let (Some(first), Some(last)) = (logged.keys().next(), logged.keys().last()) else {
            return Ok(());
        };
        let range = DayRange::parse(Some(&first.to_string()), Some(&last.to_string()), *last)
            .map_err(|e| e.to_string())?;
        let kept = store
            .day_stats(&self.t.tenant_a, range)
            .await
            .map_err(|e| e.to_string())?;
        let kept: BTreeMap<NaiveDate, [u64; 4]> = kept
            .into_iter()
            .map(|(day, s)| {
                let given = s.discount.values().map(|d| d.given).sum();
                let reversed = s.discount.values().map(|d| d.reversed).sum();
                (day, [s.redemptions, s.reversals, given, reversed])
            })
            .collect();
        ensure(kept == logged, || {
            format!(
                "day figures [uses, reversals, given, given back] {kept:?}, the log's {logged:?}"
            )
        })
    }

    /// The counts of a code's live coupon as stored, and what the log and
    /// the reservations say they must be.
    async fn books(&self, code: usize) -> Result<Books, String> {
        let items = self.scan().await;
        let live = self.live[code].as_ref().ok_or("no live coupon")?;
        Ok(Books::of(&self.t, &items, code, live, self.began))
    }

    async fn campaign_books(&self) -> CampaignBooks {
        CampaignBooks::of(&self.scan().await)
    }

    /// Everything that must hold after any step.
    async fn check(&self) -> Checked {
        let items = self.scan().await;
        for item in &items {
            let budget_shard = text(item, "type") == Some("campaign_budget_shard");
            for name in COUNTERS {
                let unlimited = match name {
                    "uses_left" => !flag(item, "limits_uses"),
                    _ => false,
                };
                if budget_shard && unlimited {
                    continue;
                }
                if let Some(value) = number(item, name) {
                    ensure(value >= 0, || {
                        format!(
                            "{name} = {value} on {:?}/{:?}",
                            text(item, schema::PK),
                            text(item, schema::SK)
                        )
                    })?;
                }
            }
        }
        for (code, name) in CODES.iter().enumerate() {
            let details = self
                .t
                .send(get(&format!("/coupon?code={name}")).token(&self.t.token_a))
                .await;
            let Some(live) = &self.live[code] else {
                ensure(details.status == 404, || {
                    format!("details of deleted {name}: {}", describe(&details))
                })?;
                continue;
            };
            ensure(details.status == 200, || {
                format!("details of {name}: {}", describe(&details))
            })?;
            let books = Books::of(&self.t, &items, code, live, self.began);
            ensure(books.created_at == Some(live.created_at), || {
                format!("{name}'s coupon item is not the one created: {books:?}")
            })?;
            ensure(books.redeemed == books.consumes - books.reversals, || {
                format!("{name}: redeemed != consume rows - reversal rows: {books:?}")
            })?;
            ensure(books.reserved == books.held, || {
                format!("{name}: reserved != reservations held: {books:?}")
            })?;
            ensure(
                books.left + books.redeemed + books.reserved == live.given,
                || {
                    format!(
                        "{name}: left + redeemed + reserved != {}: {books:?}",
                        live.given
                    )
                },
            )?;
            ensure(books.customers_agree, || {
                format!("{name}: a customer's count differs from their uses and holds: {books:?}")
            })?;
            let coupon = items
                .iter()
                .find(|i| {
                    text(i, schema::PK) == Some(&coupon_pk(&self.t, code))
                        && text(i, schema::SK) == Some("COUPON")
                })
                .ok_or("no coupon item")?;
            let owner = live.owner.map(|c| CUSTOMERS[c]);
            let index = match owner {
                Some(owner) => Some(format!("T#tenant-a#OWNER#{owner}")),
                None if live.in_pool() => Some(format!("T#tenant-a#POOL#{}", self.campaign)),
                None => None,
            };
            ensure(
                text(coupon, "customer_id") == owner
                    && text(coupon, schema::GSI3PK) == index.as_deref(),
                || format!("{name}: owner {owner:?} and pool key {index:?} are not as stored"),
            )?;
        }
        let books = CampaignBooks::of(&items);
        ensure(books.redeemed == books.consumes - books.reversals, || {
            format!("campaign: redeemed != consume rows - reversal rows: {books:?}")
        })?;
        ensure(books.discount_total == books.logged_amount, || {
            format!("campaign: discount_total != the log's net discount: {books:?}")
        })?;
        ensure(
            books.held_uses == books.holds && books.held_amount == books.held_logged,
            || format!("campaign: held != its held reservations: {books:?}"),
        )?;
        if let Some(budget) = books.uses_budget {
            ensure(
                books.spent_uses() <= budget && books.uses_left == budget - books.spent_uses(),
                || format!("campaign: the use budget's room is off: {books:?}"),
            )?;
        }
        if let Some(budget) = books.amount_budget {
            ensure(
                books.spent_amount() <= budget
                    && books.amount_left == budget - books.spent_amount(),
                || format!("campaign: the money budget's room is off: {books:?}"),
            )?;
        }
        let codes = self.live.iter().flatten().filter(|l| l.campaign).count() as i64;
        ensure(books.coupon_count == codes, || {
            format!("campaign: coupon_count is not its {codes} live codes: {books:?}")
        })
    }
}

/// The campaign's budget shards, and what its log rows and reservations
/// say they must hold. Amounts in minor units.
#[derive(Debug, Default)]
struct CampaignBooks {
    uses_budget: Option<i64>,
    amount_budget: Option<i64>,
    coupon_count: i64,
    uses_left: i64,
    amount_left: i64,
    redeemed: i64,
    discount_total: i64,
    held_uses: i64,
    held_amount: i64,
    consumes: i64,
    reversals: i64,
    logged_amount: i64,
    holds: i64,
    held_logged: i64,
}

impl CampaignBooks {
    fn of(items: &[HashMap<String, AttributeValue>]) -> CampaignBooks {
        let mut books = CampaignBooks::default();
        for item in items {
            match text(item, "type") {
                Some("campaign") => {
                    books.uses_budget = number(item, "budget_uses");
                    books.amount_budget = number(item, "budget_amount");
                    books.coupon_count = number(item, "coupon_count").unwrap_or(0);
                }
                Some("campaign_budget_shard") => {
                    books.uses_left += number(item, "uses_left").unwrap_or(0);
                    books.amount_left += number(item, "amount_left").unwrap_or(0);
                    books.redeemed += number(item, "redeemed_count").unwrap_or(0);
                    books.discount_total += number(item, "discount_total").unwrap_or(0);
                    books.held_uses += number(item, "held_uses").unwrap_or(0);
                    books.held_amount += number(item, "held_amount").unwrap_or(0);
                }
                Some("redemption") if item.contains_key("budget_shard") => {
                    let amount = number(item, "budget_amount").unwrap_or(0);
                    if text(item, "kind") == Some("reversal") {
                        books.reversals += 1;
                        books.logged_amount -= amount;
                    } else {
                        books.consumes += 1;
                        books.logged_amount += amount;
                    }
                }
                Some("reservation")
                    if item.contains_key("budget_shard") && text(item, "state") == Some("held") =>
                {
                    books.holds += 1;
                    books.held_logged += number(item, "budget_amount").unwrap_or(0);
                }
                _ => {}
            }
        }
        books
    }

    fn spent_uses(&self) -> i64 {
        self.redeemed + self.held_uses
    }

    fn spent_amount(&self) -> i64 {
        self.discount_total + self.held_amount
    }
}

/// One live coupon's counts as stored and as its log and reservations say.
#[derive(Debug, Default)]
struct Books {
    created_at: Option<i64>,
    left: i64,
    redeemed: i64,
    reserved: i64,
    consumes: i64,
    reversals: i64,
    held: i64,
    expired_holds: i64,
    /// Each customer's stored count equals their counted uses and holds.
    customers_agree: bool,
}

impl Books {
    fn of(
        t: &TestApp,
        items: &[HashMap<String, AttributeValue>],
        code: usize,
        live: &Live,
        expired_by: chrono::DateTime<chrono::Utc>,
    ) -> Books {
        let pk = coupon_pk(t, code);
        let name = CODES[code];
        let cca = live.created_at;
        let mut books = Books::default();
        let coupon = items
            .iter()
            .find(|i| text(i, schema::PK) == Some(&pk) && text(i, schema::SK) == Some("COUPON"));
        let Some(coupon) = coupon else {
            return books;
        };
        books.created_at = number(coupon, "created_at");
        let shards = number(coupon, "shards").unwrap_or(0);
        let counted: Vec<&HashMap<String, AttributeValue>> = if shards > 0 {
            let code = CouponCode::parse(name).unwrap();
            (0..shards as u32)
                .filter_map(|s| {
                    let shard_pk = schema::shard_pk(&t.tenant_a, &code, s);
                    items.iter().find(|i| {
                        text(i, schema::PK) == Some(&shard_pk)
                            && number(i, "created_at") == Some(cca)
                    })
                })
                .collect()
        } else {
            vec![coupon]
        };
        for item in counted {
            books.left += number(item, "uses_left").unwrap_or(0);
            books.redeemed += number(item, "redeemed_count").unwrap_or(0);
            books.reserved += number(item, "reserved_count").unwrap_or(0);
        }
        let mine = |i: &&HashMap<String, AttributeValue>| {
            text(i, "code") == Some(name) && number(i, "coupon_created_at") == Some(cca)
        };
        let counted_flag = |i: &HashMap<String, AttributeValue>| {
            i.get("counted_for_customer")
                .is_some_and(|v| v.as_bool().is_ok_and(|b| *b))
        };
        let mut expected: HashMap<String, i64> = HashMap::new();
        for row in items
            .iter()
            .filter(|i| text(i, "type") == Some("redemption"))
            .filter(mine)
        {
            let sign = if text(row, "kind") == Some("reversal") {
                books.reversals += 1;
                -1
            } else {
                books.consumes += 1;
                1
            };
            if counted_flag(row)
                && let Some(customer) = text(row, "customer_id")
            {
                *expected.entry(customer.to_owned()).or_default() += sign;
            }
        }
        for held in items
            .iter()
            .filter(|i| text(i, "type") == Some("reservation"))
            .filter(mine)
            .filter(|i| text(i, "state") == Some("held"))
        {
            books.held += 1;
            if number(held, "expires_at").is_some_and(|at| at <= expired_by.timestamp_millis()) {
                books.expired_holds += 1;
            }
            if counted_flag(held)
                && let Some(customer) = text(held, "customer_id")
            {
                *expected.entry(customer.to_owned()).or_default() += 1;
            }
        }
        // A customer's count item under the coupon's key: `CUST#{created_at}#{customer}`
        // for this incarnation, or a `CUST#{customer}` that does not say which.
        let mut stored: HashMap<String, i64> = HashMap::new();
        for item in items.iter().filter(|i| text(i, schema::PK) == Some(&pk)) {
            let parts: Vec<&str> = text(item, schema::SK).unwrap_or("").split('#').collect();
            let customer = match parts.as_slice() {
                ["CUST", at, customer] if at.parse::<i64>() == Ok(cca) => customer,
                ["CUST", customer] => customer,
                _ => continue,
            };
            *stored.entry((*customer).to_owned()).or_default() += number(item, "uses").unwrap_or(0);
        }
        stored.retain(|_, uses| *uses != 0);
        expected.retain(|_, uses| *uses != 0);
        books.customers_agree = stored == expected;
        books
    }
}

fn coupon_pk(t: &TestApp, code: usize) -> String {
    schema::coupon_pk(&t.tenant_a, &CouponCode::parse(CODES[code]).unwrap())
}

fn add_customer_and_order(fields: &mut Value, customer: Option<usize>, order: Option<usize>) {
    if let Some(c) = customer {
        fields["customer_id"] = json!(CUSTOMERS[c]);
    }
    if let Some(o) = order {
        fields["order_amount"] = json!(ORDERS[o].to_string());
    }
}

fn not_a_fault(r: &TestResponse) -> Checked {
    ensure(r.status < 500, || {
        format!("a server fault: {}", describe(r))
    })
}

fn describe(r: &TestResponse) -> String {
    format!("{} {}", r.status, r.text())
}

/// Sequences run so far, and the first that failed (shrinking runs more).
static CASES_RUN: AtomicUsize = AtomicUsize::new(0);
static FIRST_FAILURE: AtomicUsize = AtomicUsize::new(0);

async fn run(ops: &[Op]) -> Checked {
    let case = CASES_RUN.fetch_add(1, Ordering::Relaxed) + 1;
    let outcome = run_steps(ops).await.map_err(|(_, e)| e);
    if let Err(e) = &outcome
        && FIRST_FAILURE
            .compare_exchange(0, case, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        eprintln!("model: sequence {case} is the first to fail ({e}); shrinking it");
    }
    outcome
}

/// Runs `ops` in order; on the first step that breaks a rule, its index
/// and what it broke.
async fn run_steps(ops: &[Op]) -> Result<(), (usize, String)> {
    let mut run = Run::new().await;
    let mut outcome = Ok(());
    for (step, op) in ops.iter().enumerate() {
        let checked = match run.apply(op).await {
            Ok(()) => run.check().await,
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            outcome = Err((step, format!("step {step} ({op:?}): {e}")));
            break;
        }
    }
    if outcome.is_ok()
        && let Err(e) = run.check_events().await
    {
        outcome = Err((ops.len() - 1, format!("after the last step, events: {e}")));
    }
    run.t.delete_table().await;
    outcome
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

#[test]
fn every_ordering_keeps_the_books() {
    let setting = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    // A seed of our own, printed, so any run can be repeated.
    let seed = setting("MODEL_SEED").unwrap_or_else(rand::random);
    let config = Config {
        cases: setting("MODEL_CASES").map_or(24, |c| c as u32),
        rng_seed: RngSeed::Fixed(seed),
        // Each case is a fresh table and up to 50 requests: shrinking a
        // failure is bounded in time, not in steps.
        max_shrink_time: 240_000,
        max_shrink_iters: u32::MAX,
        failure_persistence: None,
        ..Config::default()
    };
    // Shrinking deletes operations and never rewrites one: each try replays
    // a sequence against moto, and deletions reach a short sequence in a
    // pass or two where rewriting every field would take many minutes. A
    // slot that shrinks to `None` deletes its operation below the 20 that
    // the length alone cannot go under.
    let slot = proptest::option::weighted(0.99, op().no_shrink());
    let sequences = proptest::collection::vec(slot, 20..=50)
        .prop_map(|slots| slots.into_iter().flatten().collect::<Vec<Op>>());
    let outcome = TestRunner::new(config).run(&sequences, |ops| {
        RUNTIME.block_on(run(&ops)).map_err(TestCaseError::fail)
    });
    match outcome {
        Ok(()) => eprintln!(
            "model: {} sequences passed (MODEL_SEED={seed})",
            CASES_RUN.load(Ordering::Relaxed)
        ),
        Err(TestError::Fail(why, ops)) => {
            // Only the steps up to the one that failed matter.
            let failed_at = RUNTIME
                .block_on(run_steps(&ops))
                .err()
                .map(|(step, _)| step);
            let shown = &ops[..failed_at.map_or(ops.len(), |step| step + 1)];
            panic!("{why}\nMODEL_SEED={seed}; the shortest failing sequence found:\n{shown:#?}")
        }
        Err(e) => panic!("{e} (MODEL_SEED={seed})"),
    }
}
