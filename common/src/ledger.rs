//! The redemption log as an API (`GET /redemptions`): what a query asks
//! for, and where its next page starts.

use chrono::{DateTime, Utc};

use crate::campaign::CampaignId;
use crate::code::CouponCode;
use crate::coupon::{Redemption, RedemptionKind};
use crate::dates::{from_millis, to_millis};
use crate::invalid::Invalid;
use crate::tenant::TenantId;

/// One page's question: any of code, customer and campaign, a kind, and a
/// time range (both ends included), newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerQuery {
    pub code: Option<CouponCode>,
    pub customer_id: Option<String>,
    pub campaign_id: Option<CampaignId>,
    pub kind: Option<RedemptionKind>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub limit: u32,
    /// Rows older than this one come next.
    pub before: Option<LedgerCursor>,
}

/// Where the next page starts, newest first: the rows written before the
/// instant `at` and, at that very millisecond, those whose id sorts before
/// `id` (`None`: every row of that millisecond is still to come). As text,
/// `{tenant}.{epoch ms}.{id or ~}`: a tenant's cursors name it, and another
/// tenant's are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCursor {
    pub at: DateTime<Utc>,
    pub id: Option<String>,
}

/// The id part of a cursor after every id (`~` sorts after hex digits).
const AFTER_EVERY_ID: &str = "~";

impl LedgerCursor {
    /// The id part of the log's sort key at this cursor's instant.
    pub fn id_part(&self) -> &str {
        self.id.as_deref().unwrap_or(AFTER_EVERY_ID)
    }

    /// A cursor this API gave `tenant`; anything else is refused.
    pub fn parse(text: &str, tenant: &TenantId) -> Result<LedgerCursor, Invalid> {
        let invalid = || Invalid("cursor is not one this API gave".into());
        let mut parts = text.splitn(3, '.');
        let (Some(owner), Some(millis), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if owner != tenant.as_str()
            || millis.is_empty()
            || millis.len() > 15
            || !millis.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let at = from_millis(millis.parse().map_err(|_| invalid())?);
        let id = match id {
            AFTER_EVERY_ID => None,
            id if Redemption::time_of_id(id).is_some() => Some(id.to_owned()),
            _ => return Err(invalid()),
        };
        Ok(LedgerCursor { at, id })
    }

    pub fn to_text(&self, tenant: &TenantId) -> String {
        format!("{tenant}.{}.{}", to_millis(self.at), self.id_part())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_stays_in_its_tenant() {
        let tenant = TenantId::parse("acme").unwrap();
        let at = from_millis(1_795_464_000_123);
        for id in [Some(Redemption::new_id(at)), None] {
            let cursor = LedgerCursor { at, id };
            let text = cursor.to_text(&tenant);
            assert_eq!(LedgerCursor::parse(&text, &tenant).unwrap(), cursor);
            let other = TenantId::parse("other").unwrap();
            assert!(LedgerCursor::parse(&text, &other).is_err(), "{text}");
        }
        for bad in [
            "",
            "acme",
            "acme.1795464000123",
            "acme..~",
            "acme.-1.~",
            "acme.1795464000123.not-an-id",
            "acme.99999999999999999999.~",
            "acme.1795464000123.0194c1a0-0000-4000-8000-000000000000",
        ] {
            assert!(LedgerCursor::parse(bad, &tenant).is_err(), "{bad}");
        }
    }
}
