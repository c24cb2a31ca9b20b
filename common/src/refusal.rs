//! Why a coupon cannot be used right now: the domain's answer, shared by
//! validate (reported as `reason`) and consume (a 409 problem).

use serde::Serialize;

/// Why a coupon cannot be used right now. Shared by validate (reported as
/// `reason`) and consume (reported as a 409 problem).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Exhausted,
    Expired,
    NotYetValid,
    Inactive,
    ProductMismatch,
    CurrencyMismatch,
    BelowMinimumOrder,
    CustomerLimitReached,
    /// The reservation expired or was released; its use went back.
    ReservationExpired,
    /// The reservation was consumed already.
    ReservationUsed,
    AlreadyRolledBack,
    /// The campaign's budget cannot pay for this use.
    BudgetExhausted,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Exhausted => "exhausted",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::Inactive => "inactive",
            Refusal::ProductMismatch => "product_mismatch",
            Refusal::CurrencyMismatch => "currency_mismatch",
            Refusal::BelowMinimumOrder => "below_minimum_order",
            Refusal::CustomerLimitReached => "customer_limit_reached",
            Refusal::ReservationExpired => "reservation_expired",
            Refusal::ReservationUsed => "reservation_used",
            Refusal::AlreadyRolledBack => "already_rolled_back",
            Refusal::BudgetExhausted => "budget_exhausted",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            Refusal::Exhausted => "The coupon has no uses left.",
            Refusal::Expired => "The coupon has expired.",
            Refusal::NotYetValid => "The coupon is not valid yet.",
            Refusal::Inactive => "The coupon is inactive.",
            Refusal::ProductMismatch => "The coupon does not apply to this product.",
            Refusal::CurrencyMismatch => "The coupon is for orders in another currency.",
            Refusal::BelowMinimumOrder => "The order is below the coupon's minimum order amount.",
            Refusal::CustomerLimitReached => {
                "This customer has used the coupon as often as it allows."
            }
            Refusal::ReservationExpired => {
                "The reservation expired or was released; its use went back to the coupon."
            }
            Refusal::ReservationUsed => "The reservation was consumed already.",
            Refusal::AlreadyRolledBack => "The redemption was rolled back already.",
            Refusal::BudgetExhausted => {
                "The coupon's campaign has spent its budget (uses or discount amount)."
            }
        }
    }
}
