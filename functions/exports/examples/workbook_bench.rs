//! Writes N synthetic redemption rows to an xlsx file through the export's
//! workbook writer, in-process: the Rust side of `scripts/bench-xlsx.sh`.
//!
//! usage: workbook_bench ROWS OUT.xlsx

use std::time::Instant;

use chrono::{DateTime, Duration};
use common::code::CouponCode;
use common::coupon::{Pricing, Redemption, RedemptionKind};
use common::metadata::Metadata;
use common::money::Money;
use common::offer::Discount;
use exports::workbook::{MAX_DATA_ROWS_PER_SHEET, RedemptionWorkbook};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().ok_or("ROWS missing")?.parse()?;
    let out = args.next().ok_or("OUT.xlsx missing")?;
    let started = Instant::now();
    let mut workbook = RedemptionWorkbook::new(MAX_DATA_ROWS_PER_SHEET)?;
    let start = DateTime::from_timestamp(1_795_000_000, 0).ok_or("bad start")?;
    let mut row = Redemption {
        redemption_id: String::new(),
        kind: RedemptionKind::Consume,
        reverses: None,
        rolled_back_by: None,
        code: CouponCode::parse("SUMMER24ABCD")?,
        coupon_created_at: start,
        product_id: Some("apple123".into()),
        promo_type: Some("voucher".into()),
        discount: Some(Discount::Fixed(Money::from_minor(499))),
        currency: Some("EUR".into()),
        customer_id: Some("c-42".into()),
        counted_for_customer: false,
        pricing: Some(Pricing {
            order_amount: Money::from_minor(8_000),
            discount_amount: Money::from_minor(499),
            currency: Some("EUR".into()),
        }),
        reservation_id: None,
        shard: None,
        campaign: None,
        consumed_at: start,
        metadata: Metadata::from_stored([("order_id".into(), "ord-1042-7731".into())]),
    };
    for i in 0..rows {
        row.redemption_id = format!("0194c1a0-0000-7000-8000-{i:012}");
        row.consumed_at = start + Duration::milliseconds(i as i64 * 250);
        workbook.push(&row)?;
    }
    let written = workbook.save(std::path::Path::new(&out))?;
    eprintln!(
        "rust_xlsxwriter: {written} rows in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
