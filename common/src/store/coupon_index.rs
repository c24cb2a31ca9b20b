//! Pages of coupons from an index partition keyed by code: a tenant's
//! coupons (GSI1), a campaign's codes (GSI2), a customer's personal codes
//! (GSI3).

use super::item::*;
use super::schema::*;
use super::{DynamoStore, Page, StoreResult};
use crate::code::CouponCode;
use crate::coupon::Coupon;
use crate::tenant::TenantId;

/// An index whose partitions list coupons by code: its name and keys.
pub(super) struct CodeIndex(&'static str, &'static str, &'static str);

impl CodeIndex {
    /// A tenant's coupons.
    pub(super) const GSI1: CodeIndex = CodeIndex(GSI1, GSI1PK, GSI1SK);
    /// A campaign's codes.
    pub(super) const GSI2: CodeIndex = CodeIndex(GSI2, GSI2PK, GSI2SK);
    /// A customer's personal codes; a campaign's pool.
    pub(super) const GSI3: CodeIndex = CodeIndex(GSI3, GSI3PK, GSI3SK);
}

impl DynamoStore {
    /// A page of the coupons in `partition` of `index`, after the code
    /// `after`, with their counts and campaigns.
    pub(super) async fn coupons_by_code(
        &self,
        tenant: &TenantId,
        CodeIndex(index, pk, sk): CodeIndex,
        partition: String,
        limit: u32,
        after: Option<&CouponCode>,
    ) -> StoreResult<Page<Coupon>> {
        let start = after.map(|code| {
            Item::from([
                (PK.to_owned(), s(coupon_pk(tenant, code))),
                (SK.to_owned(), s(COUPON_SK)),
                (pk.to_owned(), s(&partition)),
                (sk.to_owned(), s(code.as_str())),
            ])
        });
        let (items, more) = self
            .index_page((index, pk), partition, limit, start, false)
            .await?;
        let mut items = items
            .iter()
            .map(coupon_from)
            .collect::<StoreResult<Vec<_>>>()?;
        self.add_shard_counts(tenant, &mut items).await?;
        self.join_campaigns(tenant, &mut items).await?;
        let next = more.then(|| items.last().map(|c| c.code.clone())).flatten();
        Ok(Page { items, next })
    }
}
