//! Bulk generation jobs to DynamoDB items and back: the job's request
//! (format, coupon template, seed), progress and lease.

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use super::item::*;
use super::schema::*;
use crate::job::{FormatSpec, Job, JobStatus};
use crate::tenant::TenantId;

/// A job: its request (format, coupon template, seed), progress and lease.
pub fn job_item(tenant: &TenantId, job: &Job) -> Result<Item, StoreError> {
    let mut template = coupon_item(tenant, &job.template);
    for key in [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK] {
        template.remove(key);
    }
    let format = serde_json::to_string(&job.format)
        .map_err(|e| StoreError::Unavailable(format!("job format: {e}")))?;
    let mut item = Item::from([
        (PK.into(), s(job_pk(tenant, &job.job_id))),
        (SK.into(), s(JOB_SK)),
        ("type".into(), s("job")),
        ("tenant_id".into(), s(tenant.as_str())),
        ("job_id".into(), s(&job.job_id)),
        ("status".into(), s(job.status.as_str())),
        ("quantity".into(), n(job.quantity)),
        ("batches_done".into(), n(job.batches_done)),
        ("format".into(), s(format)),
        ("template".into(), AttributeValue::M(template)),
        ("shape".into(), s(&job.shape_key)),
        ("seed".into(), s(&job.seed)),
        (
            "replaced".into(),
            AttributeValue::M(
                job.replaced
                    .iter()
                    .map(|(slot, attempt)| (slot.to_string(), n(attempt)))
                    .collect(),
            ),
        ),
        ("created_at".into(), time(job.created_at)),
        ("updated_at".into(), time(job.updated_at)),
    ]);
    if matches!(job.status, JobStatus::Pending | JobStatus::Running) {
        item.insert(GSI1PK.into(), s(ACTIVE_JOBS_GSI1PK));
        item.insert(GSI1SK.into(), s(active_job_gsi1sk(tenant, job)));
    }
    Ok(item)
}

pub fn job_from(item: &Item) -> Result<Job, StoreError> {
    let text = |name: &str| req(item, get_s(item, name), name).map(str::to_owned);
    let format: FormatSpec =
        serde_json::from_str(&text("format")?).map_err(|_| corrupt(item, "format"))?;
    let mut template = req(
        item,
        item.get("template").and_then(|v| v.as_m().ok()),
        "template",
    )?
    .clone();
    template
        .entry("code".into())
        .or_insert_with(|| s("TEMPLATE"));
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
    Ok(Job {
        job_id: text("job_id")?,
        status: JobStatus::parse(&text("status")?).ok_or_else(|| corrupt(item, "status"))?,
        quantity: req(item, get_n(item, "quantity"), "quantity")?,
        batches_done: req(item, get_n(item, "batches_done"), "batches_done")?,
        format,
        template: coupon_from(&template)?,
        shape_key: text("shape")?,
        seed: text("seed")?,
        replaced,
        error: get_s(item, "error").map(str::to_owned),
        created_at: req_time(item, "created_at")?,
        updated_at: req_time(item, "updated_at")?,
        completed_at: get_time(item, "completed_at"),
    })
}
