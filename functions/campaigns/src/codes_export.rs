//! `POST /campaigns/{campaign_id}/codes-export`: the campaign's codes and
//! their remaining uses as a CSV file in S3, for printing and mail merges,
//! with a presigned link as for redemption exports.

use std::fmt::Write;

use aws_sdk_s3::primitives::ByteStream;
use common::ApiError;
use common::campaign::CampaignId;
use common::http::json;
use common::store::CampaignStore;
use common::tenant::TenantId;
use common::views::CodesExportView;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use exports::{ExportsApp, tenant_prefix};

use crate::not_found;

/// Codes read per Query (a page of campaign codes stays far below 1 MB).
const PAGE: u32 = 1_000;
const HEADER: &str = "code,availability_count,redeemed_count,reserved_count,active\n";

pub async fn handle(
    state: &ExportsApp,
    tenant: &TenantId,
    id: &CampaignId,
) -> Result<Response<Body>, ApiError> {
    let store = &state.app.store;
    let campaign = store
        .get_campaign(tenant, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    // Codes are A-Z, 0-9, `-` and `_`: no field needs quoting.
    let mut csv = String::with_capacity(HEADER.len() + 48 * campaign.coupon_count as usize);
    csv.push_str(HEADER);
    let mut codes = 0u64;
    let mut after = None;
    loop {
        let page = store
            .list_campaign_coupons(tenant, id, PAGE, after.as_ref())
            .await?;
        for coupon in &page.items {
            // Writing to a String cannot fail.
            let _ = writeln!(
                csv,
                "{},{},{},{},{}",
                coupon.code,
                coupon.uses_left,
                coupon.redeemed_count,
                coupon.reserved_count,
                coupon.active
            );
        }
        codes += page.items.len() as u64;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let created_at = common::dates::now();
    let key = format!(
        "{}campaigns/{id}/codes-{}-{}.csv",
        tenant_prefix(tenant),
        created_at.format("%Y%m%dT%H%M%SZ"),
        uuid::Uuid::new_v4().simple()
    );
    state
        .exporter
        .upload(
            &key,
            "text/csv; charset=utf-8",
            ByteStream::from(csv.into_bytes()),
        )
        .await?;
    let (url, expires_at) = state.exporter.link(tenant, &key).await?;
    Ok(json(
        StatusCode::CREATED,
        &CodesExportView {
            campaign_id: id.as_str(),
            codes,
            created_at: common::dates::format(created_at),
            expires_at: common::dates::format(expires_at),
            key: &key,
            object: "codes_export",
            url,
        },
    ))
}
