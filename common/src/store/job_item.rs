//! Jobs to DynamoDB items and back: the job's request (a generation's
//! format, template and seed; an import's template; a delete's campaign),
//! progress and lease. A job item without `kind` is a generation, from
//! before jobs had kinds.

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use super::item::*;
use super::schema::*;
use crate::campaign::CampaignId;
use crate::code::CouponCode;
use crate::coupon::Coupon;
use crate::job::{FormatSpec, Generation, Job, JobStatus, JobWork};
use crate::tenant::TenantId;

/// A job: its request, progress and lease.
pub fn job_item(tenant: &TenantId, job: &Job) -> Result<Item, StoreError> {
    let mut item = Item::from([
        (PK.into(), s(job_pk(tenant, &job.job_id))),
        (SK.into(), s(JOB_SK)),
        ("type".into(), s("job")),
        ("kind".into(), s(job.work.kind())),
        ("tenant_id".into(), s(tenant.as_str())),
        ("job_id".into(), s(&job.job_id)),
        ("status".into(), s(job.status.as_str())),
        ("quantity".into(), n(job.quantity)),
        ("batches_done".into(), n(job.batches_done)),
        ("written".into(), n(job.written)),
        ("skipped".into(), n(job.skipped)),
        ("created_at".into(), time(job.created_at)),
        ("updated_at".into(), time(job.updated_at)),
    ]);
    match &job.work {
        JobWork::Generate(generation) => {
            let format = serde_json::to_string(&generation.format)
                .map_err(|e| StoreError::Unavailable(format!("job format: {e}")))?;
            item.extend([
                ("format".into(), s(format)),
                (
                    "template".into(),
                    template_attr(tenant, &generation.template),
                ),
                ("shape".into(), s(&generation.shape_key)),
                ("seed".into(), s(&generation.seed)),
                (
                    "replaced".into(),
                    AttributeValue::M(
                        generation
                            .replaced
                            .iter()
                            .map(|(slot, attempt)| (slot.to_string(), n(attempt)))
                            .collect(),
                    ),
                ),
            ]);
        }
        JobWork::Import { template } => {
            item.insert("template".into(), template_attr(tenant, template));
        }
        JobWork::DeleteCampaignCodes { campaign_id } => {
            item.insert("campaign_id".into(), s(campaign_id.as_str()));
        }
    }
    if let Some(code) = &job.resume_after {
        item.insert("resume_after".into(), s(code.as_str()));
    }
    if matches!(job.status, JobStatus::Pending | JobStatus::Running) {
        item.insert(GSI1PK.into(), s(ACTIVE_JOBS_GSI1PK));
        item.insert(GSI1SK.into(), s(active_job_gsi1sk(tenant, job)));
    }
    Ok(item)
}

/// A template coupon as a map, without the keys a coupon item has.
fn template_attr(tenant: &TenantId, template: &Coupon) -> AttributeValue {
    let mut template = coupon_item(tenant, template);
    for key in [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK] {
        template.remove(key);
    }
    AttributeValue::M(template)
}

pub fn job_from(item: &Item) -> Result<Job, StoreError> {
    let text = |name: &str| req(item, get_s(item, name), name).map(str::to_owned);
    let template = || -> Result<Coupon, StoreError> {
        let mut template = req(
            item,
            item.get("template").and_then(|v| v.as_m().ok()),
            "template",
        )?
        .clone();
        template
            .entry("code".into())
            .or_insert_with(|| s("TEMPLATE"));
        coupon_from(&template)
    };
    let work = match get_s(item, "kind").unwrap_or("generate") {
        "generate" => {
            let format: FormatSpec =
                serde_json::from_str(&text("format")?).map_err(|_| corrupt(item, "format"))?;
            let replaced = item
                .get("replaced")
                .and_then(|v| v.as_m().ok())
                .map(|m| {
                    m.iter()
                        .filter_map(|(slot, attempt)| {
                            Some((slot.parse().ok()?, attempt.as_n().ok()?.parse().ok()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            JobWork::Generate(Box::new(Generation {
                format,
                template: template()?,
                shape_key: text("shape")?,
                seed: text("seed")?,
                replaced,
            }))
        }
        "import" => JobWork::Import {
            template: Box::new(template()?),
        },
        "delete_campaign_codes" => JobWork::DeleteCampaignCodes {
            campaign_id: CampaignId::parse(&text("campaign_id")?)
                .map_err(|_| corrupt(item, "campaign_id"))?,
        },
        _ => return Err(corrupt(item, "kind")),
    };
    let resume_after = get_s(item, "resume_after")
        .map(|c| CouponCode::parse(c).map_err(|_| corrupt(item, "resume_after")))
        .transpose()?;
    Ok(Job {
        job_id: text("job_id")?,
        status: JobStatus::parse(&text("status")?).ok_or_else(|| corrupt(item, "status"))?,
        work,
        quantity: req(item, get_n(item, "quantity"), "quantity")?,
        batches_done: req(item, get_n(item, "batches_done"), "batches_done")?,
        written: get_n(item, "written").unwrap_or(0),
        skipped: get_n(item, "skipped").unwrap_or(0),
        resume_after,
        error: get_s(item, "error").map(str::to_owned),
        created_at: req_time(item, "created_at")?,
        updated_at: req_time(item, "updated_at")?,
        completed_at: get_time(item, "completed_at"),
    })
}
