//! A campaign's fields as clients send them, for create and update alike:
//! the offer terms a coupon has (read by `common::terms`), and what only a
//! campaign has. As for coupons, a field left out of an update stays as it
//! is and `null` (or an empty form value) clears it.

use common::ApiError;
use common::campaign::{parse_budget_uses, parse_name, parse_product_ids};
use common::money::Money;
use common::request::{self, lenient};
use common::store::CampaignPatch;
use common::terms::TermsFields;
use lambda_http::Request;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignOnly {
    #[serde(default, deserialize_with = "lenient::patch_text")]
    name: Option<Option<String>>,
    /// A JSON list, or (in forms) comma-separated ids.
    #[serde(default, deserialize_with = "lenient::patch_list")]
    product_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    max_discount_amount: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_number")]
    budget_uses: Option<Option<u64>>,
    #[serde(default, deserialize_with = "lenient::patch_text")]
    budget_amount: Option<Option<String>>,
}

/// The request body as a change to a campaign (for a create, to a blank one).
pub async fn patch(req: &Request) -> Result<CampaignPatch, ApiError> {
    let mut fields = request::body_fields(req).await?;
    let terms = TermsFields::take(&mut fields)?;
    let metadata = request::take_metadata(&mut fields)?;
    let own: CampaignOnly = request::decode(fields)?;
    let terms = terms.parse()?;
    if terms.uses_left.is_some() {
        return Err(ApiError::Invalid(
            "availability_count is each code's own: give it with POST /coupon and campaign_id"
                .into(),
        ));
    }
    let name = match own.name {
        Some(None) => return Err(ApiError::Invalid("name cannot be cleared".into())),
        Some(Some(name)) => Some(parse_name(&name)?),
        None => None,
    };
    let money = |field: &str, value: Option<Option<String>>| {
        value
            .map(|v| v.map(|text| Money::parse(field, &text)).transpose())
            .transpose()
    };
    Ok(CampaignPatch {
        name,
        product_id: terms.product_id,
        product_ids: own
            .product_ids
            .map(|ids| parse_product_ids(&ids.unwrap_or_default()))
            .transpose()?,
        promo_type: terms.promo_type,
        discount: terms.discount,
        currency: terms.currency,
        min_order_amount: terms.min_order_amount,
        max_discount_amount: money("max_discount_amount", own.max_discount_amount)?,
        max_uses_per_customer: terms.max_uses_per_customer,
        starts_at: terms.starts_at,
        expires_at: terms.expires_at,
        active: terms.active,
        budget_uses: own
            .budget_uses
            .map(|b| b.map(parse_budget_uses).transpose())
            .transpose()?,
        budget_amount: money("budget_amount", own.budget_amount)?,
        metadata,
    })
}
