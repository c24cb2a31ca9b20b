//! `POST /coupon`: one coupon with a custom or generated code, or `quantity`
//! generated ones; above 1,000 a job that the worker function writes.

use chrono::{DateTime, Utc};
use common::campaign::{Campaign, CampaignId};
use common::campaign_codes;
use common::code::{CouponCode, MIN_GENERATED_LENGTH};
use common::coupon::{Coupon, HIGH_DEMAND_SHARDS, MAX_AVAILABILITY, MAX_CUSTOMER_ID_CHARS};
use common::http::{job_accepted, json};
use common::job::{FormatSpec, Job, MAX_JOB_QUANTITY};
use common::keyspace::{KeyspacePolicy, Shape};
use common::metadata::Metadata;
use common::offer::parse_label;
use common::pattern::CodeFormat;
use common::request::{self, lenient};
use common::store::{CouponStore, DynamoStore, JobStore, LiveCodeStore};
use common::tenant::TenantId;
use common::views::{CouponView, ListView};
use common::{ApiError, App};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use common::terms::TermsFields;

/// Most codes one request writes itself; more become a job for the worker.
pub const MAX_SYNC_QUANTITY: u64 = 1_000;
/// Fresh draws for codes that collide with existing ones before giving up.
const COLLISION_RETRIES: usize = 5;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_number")]
    code_length: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    prefix: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    suffix: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    pattern: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    charset: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_number")]
    quantity: Option<u64>,
    /// Spread the uses over counter shards, for a code a crowd redeems at once.
    #[serde(default, deserialize_with = "lenient::opt_flag")]
    high_demand: Option<bool>,
    /// The codes belong to this campaign and take its terms.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    campaign_id: Option<String>,
    /// Personal codes: only this customer may use them.
    #[serde(default, deserialize_with = "lenient::opt_text")]
    customer_id: Option<String>,
}

/// Where the codes come from.
enum Codes {
    Custom(CouponCode),
    Generated(Box<Generated>),
}

impl Codes {
    fn quantity(&self) -> u64 {
        match self {
            Codes::Custom(_) => 1,
            Codes::Generated(generated) => generated.quantity,
        }
    }
}

struct Generated {
    spec: FormatSpec,
    format: CodeFormat,
    shape: Shape,
    quantity: u64,
}

pub async fn handle(
    app: &App,
    tenant: &TenantId,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let mut fields = request::body_fields(req).await?;
    let as_list = fields.get("quantity").is_some_and(|q| !q.is_null());
    let terms = TermsFields::take(&mut fields)?;
    let metadata = request::take_metadata(&mut fields)?.unwrap_or_default();
    let body: CreateRequest = request::decode(fields)?;
    let (codes, template) = parse(body, terms, metadata, &app.keyspace, app.clock.now())?;
    let Some(campaign_id) = template.campaign_id.clone() else {
        return create(app, tenant, codes, template, as_list, None).await;
    };
    let quantity = codes.quantity();
    campaign_codes::counted_into(app, tenant, &campaign_id, quantity, |campaign| async move {
        create(app, tenant, codes, template, as_list, Some(&campaign)).await
    })
    .await
}

/// Writes the codes (or a job for them); `campaign` is theirs, if any.
async fn create(
    app: &App,
    tenant: &TenantId,
    codes: Codes,
    template: Coupon,
    as_list: bool,
    campaign: Option<&Campaign>,
) -> Result<Response<Body>, ApiError> {
    let coupons = match codes {
        Codes::Custom(code) => {
            let coupon = Coupon { code, ..template };
            let taken = app
                .store
                .insert_new_coupons(tenant, std::slice::from_ref(&coupon), None)
                .await?;
            if !taken.is_empty() {
                return Err(ApiError::AlreadyExists(format!(
                    "coupon {} already exists",
                    coupon.code
                )));
            }
            vec![coupon]
        }
        Codes::Generated(generated) => {
            let Generated {
                spec,
                format,
                shape,
                quantity,
            } = *generated;
            if let Err(live) = app
                .store
                .reserve_live_codes(tenant, &shape, quantity)
                .await?
            {
                return Err(app.keyspace.refusal(&shape, quantity, live).into());
            }
            let created = if quantity > MAX_SYNC_QUANTITY {
                let job =
                    Job::generate(quantity, spec, template, shape.key.clone(), app.clock.now());
                match app
                    .store
                    .insert_job(tenant, &job, app.max_unfinished_jobs)
                    .await
                {
                    Ok(()) => return Ok(job_accepted(&job)),
                    Err(e) => Err(e.into()),
                }
            } else {
                insert_generated(
                    &app.store,
                    tenant,
                    &template,
                    &format,
                    &shape,
                    quantity as usize,
                )
                .await
            };
            match created {
                Ok(coupons) => coupons,
                Err(e) => {
                    if let Err(undo) = app
                        .store
                        .release_live_codes(tenant, &shape.key, quantity)
                        .await
                    {
                        tracing::error!(error = %undo, "could not give back a failed create's live-code count");
                    }
                    return Err(e);
                }
            }
        }
    };
    let coupons: Vec<Coupon> = match campaign {
        Some(campaign) => coupons
            .into_iter()
            .map(|c| c.in_campaign(campaign))
            .collect(),
        None => coupons,
    };
    let mut response = if as_list {
        let data = coupons.iter().map(CouponView::of).collect();
        json(StatusCode::CREATED, &ListView::all(data))
    } else {
        json(StatusCode::CREATED, &CouponView::of(&coupons[0]))
    };
    if let [coupon] = coupons.as_slice()
        && let Ok(location) = HeaderValue::from_str(&format!("/coupon?code={}", coupon.code))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn parse(
    body: CreateRequest,
    terms: TermsFields,
    metadata: Metadata,
    keyspace: &KeyspacePolicy,
    now: DateTime<Utc>,
) -> Result<(Codes, Coupon), ApiError> {
    let spec = FormatSpec {
        code_length: body.code_length,
        prefix: body.prefix,
        suffix: body.suffix,
        pattern: body.pattern,
        charset: body.charset,
    };
    let codes = match (body.code, body.quantity) {
        (Some(_), _) if spec != FormatSpec::default() => {
            return Err(ApiError::Invalid(
                "a custom code has no generated format: drop code_length, prefix, suffix, pattern and charset".into(),
            ));
        }
        (Some(_), Some(q)) if q != 1 => {
            return Err(ApiError::Invalid(
                "a custom code makes exactly one coupon; drop quantity".into(),
            ));
        }
        (Some(code), _) => Codes::Custom(CouponCode::parse(&code)?),
        (None, quantity) => {
            let format = spec.format()?;
            let quantity = quantity.unwrap_or(1);
            if quantity == 0 {
                return Err(ApiError::Invalid("quantity must be at least 1".into()));
            }
            // The keyspace check first: it says why a huge batch of short
            // codes can never be made, which the request cap alone would not.
            let shape =
                keyspace.shape(format.alphabet_len(), format.random_positions(), quantity)?;
            if quantity > MAX_JOB_QUANTITY {
                return Err(ApiError::Invalid(format!(
                    "quantity must be 1 to {MAX_JOB_QUANTITY}"
                )));
            }
            Codes::Generated(Box::new(Generated {
                spec,
                format,
                shape,
                quantity,
            }))
        }
    };
    let high_demand = body.high_demand.unwrap_or(false);
    if high_demand && !matches!(body.quantity, None | Some(1)) {
        return Err(ApiError::Invalid(
            "high_demand is for one code that many customers redeem: drop quantity".into(),
        ));
    }
    let campaign_id = body
        .campaign_id
        .map(|id| CampaignId::parse(&id))
        .transpose()?;
    let owner = body
        .customer_id
        .map(|c| parse_label("customer_id", &c, MAX_CUSTOMER_ID_CHARS))
        .transpose()?;
    if owner.is_some() && (high_demand || codes.quantity() > MAX_SYNC_QUANTITY) {
        return Err(ApiError::Invalid(
            "customer_id makes personal codes: not with high_demand, nor for more than \
             1,000 codes (a job); hand a campaign's codes out with POST /coupon/assign"
                .into(),
        ));
    }
    let terms = terms.parse()?;
    if campaign_id.is_some() && terms.changes_terms() {
        return Err(ApiError::Invalid(
            "a campaign's codes take its terms: give availability_count and active beside \
             campaign_id, and the offer on the campaign"
                .into(),
        ));
    }
    let uses = terms.uses_left.unwrap_or(1);
    if !(1..=MAX_AVAILABILITY).contains(&uses) {
        return Err(ApiError::Invalid(format!(
            "availability_count must be 1 to {MAX_AVAILABILITY}"
        )));
    }
    let (starts_at, expires_at) = (terms.starts_at.flatten(), terms.expires_at.flatten());
    if let (Some(start), Some(end)) = (starts_at, expires_at)
        && start > end
    {
        return Err(ApiError::Invalid(
            "starts_at must not be after expiry_date".into(),
        ));
    }
    let template = Coupon {
        // Each coupon made from this template gets its own code.
        code: CouponCode::generate(MIN_GENERATED_LENGTH),
        product_id: terms.product_id.flatten(),
        promo_type: terms.promo_type.flatten(),
        discount: terms.discount.flatten(),
        currency: terms.currency.flatten(),
        min_order_amount: terms.min_order_amount.flatten(),
        max_uses_per_customer: terms.max_uses_per_customer.flatten(),
        uses_left: uses,
        redeemed_count: 0,
        reserved_count: 0,
        shards: if high_demand { HIGH_DEMAND_SHARDS } else { 0 },
        revision: 0,
        starts_at,
        expires_at,
        active: terms.active.unwrap_or(true),
        created_at: now,
        updated_at: now,
        campaign_id,
        campaign: None,
        metadata,
        owner,
    };
    Ok((codes, template))
}

/// Inserts `quantity` coupons with fresh codes. A code that already exists
/// is drawn again, never overwritten. If the insert fails for good, what it
/// wrote is removed again: those codes were never shown to anyone, so the
/// request leaves nothing behind.
async fn insert_generated(
    store: &DynamoStore,
    tenant: &TenantId,
    template: &Coupon,
    format: &CodeFormat,
    shape: &Shape,
    quantity: usize,
) -> Result<Vec<Coupon>, ApiError> {
    let (codes, mut fresh) = format.distinct(quantity);
    let mut coupons: Vec<Coupon> = codes
        .into_iter()
        .map(|code| Coupon {
            code,
            ..template.clone()
        })
        .collect();
    // Indices of the coupons not written yet.
    let mut pending: Vec<usize> = (0..quantity).collect();
    for _ in 0..=COLLISION_RETRIES {
        let batch: Vec<Coupon> = pending.iter().map(|&i| coupons[i].clone()).collect();
        let taken = match store
            .insert_new_coupons(tenant, &batch, Some(&shape.key))
            .await
        {
            Ok(taken) => taken,
            Err(e) => {
                discard_written(store, tenant, &coupons, &pending).await;
                return Err(e.into());
            }
        };
        pending = taken.into_iter().map(|j| pending[j]).collect();
        if pending.is_empty() {
            return Ok(coupons);
        }
        for &i in &pending {
            coupons[i].code = fresh.next_code();
        }
    }
    discard_written(store, tenant, &coupons, &pending).await;
    Err(ApiError::Unavailable(
        "generated codes kept colliding with existing ones; retry".into(),
    ))
}

async fn discard_written(
    store: &DynamoStore,
    tenant: &TenantId,
    coupons: &[Coupon],
    pending: &[usize],
) {
    let written: Vec<CouponCode> = (0..coupons.len())
        .filter(|i| !pending.contains(i))
        .map(|i| coupons[i].code.clone())
        .collect();
    if let Err(undo) = store.discard_coupons(tenant, &written).await {
        tracing::error!(error = %undo, count = written.len(), "could not remove a failed create's coupons");
    }
}
