//! The redemption log as an `.xlsx` workbook, written row by row in
//! rust_xlsxwriter's constant-memory mode: each row goes to a temporary file
//! as it is written, so memory stays flat however many rows there are.

use std::path::Path;

use common::coupon::{Redemption, RedemptionKind};
use common::money::Money;
use common::offer::Discount;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

/// Excel's row limit is 1,048,576; the header takes one.
pub const MAX_DATA_ROWS_PER_SHEET: u32 = 1_048_575;

/// Amounts are signed: a reversal's are negative, so a column's sum is
/// what the discounts cost net of rollbacks. Columns added later go last,
/// so spreadsheets built on the earlier ones keep working.
const COLUMNS: [(&str, f64); 15] = [
    ("redemption_id", 38.0),
    ("kind", 11.0),
    ("reverses", 38.0),
    ("code", 16.0),
    ("product_id", 18.0),
    ("promo_type", 14.0),
    ("discount_type", 14.0),
    ("discount_value", 15.0),
    ("currency", 10.0),
    ("customer_id", 18.0),
    ("order_amount", 14.0),
    ("discount_amount", 16.0),
    ("consumed_at (UTC)", 21.0),
    ("campaign_id", 38.0),
    ("metadata", 40.0),
];

/// Days from Excel's epoch (1899-12-30) to the Unix epoch.
const UNIX_EPOCH_AS_EXCEL_SERIAL: f64 = 25_569.0;
const MILLIS_PER_DAY: f64 = 86_400_000.0;

pub struct RedemptionWorkbook {
    workbook: Workbook,
    rows_per_sheet: u32,
    /// Data rows on the current sheet, and in all.
    sheet_rows: u32,
    rows: u64,
    sheets: usize,
    header: Format,
    datetime: Format,
    amount: Format,
}

impl RedemptionWorkbook {
    /// `rows_per_sheet` is `MAX_DATA_ROWS_PER_SHEET` except in tests of the roll-over.
    pub fn new(rows_per_sheet: u32) -> Result<RedemptionWorkbook, XlsxError> {
        let mut book = RedemptionWorkbook {
            workbook: Workbook::new(),
            rows_per_sheet: rows_per_sheet.clamp(1, MAX_DATA_ROWS_PER_SHEET),
            sheet_rows: 0,
            rows: 0,
            sheets: 0,
            header: Format::new().set_bold(),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            amount: Format::new().set_num_format("0.00"),
        };
        book.add_sheet()?;
        Ok(book)
    }

    fn add_sheet(&mut self) -> Result<(), XlsxError> {
        if self.sheets > 0 {
            self.close_sheet()?;
        }
        let name = match self.sheets {
            0 => "Redemptions".to_owned(),
            n => format!("Redemptions {}", n + 1),
        };
        let header = self.header.clone();
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        for (col, (title, width)) in COLUMNS.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *title, &header)?;
            sheet.set_column_width(col as u16, *width)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        // Finance prints the log: landscape, every column on one page's
        // width (as many pages down as it takes), the header on each page.
        sheet.set_landscape();
        sheet.set_print_fit_to_pages(1, 0);
        sheet.set_repeat_rows(0, 0)?;
        sheet.set_print_gridlines(true);
        self.sheets += 1;
        self.sheet_rows = 0;
        Ok(())
    }

    /// The autofilter needs the sheet's last row, known once it is full.
    fn close_sheet(&mut self) -> Result<(), XlsxError> {
        let last_row = self.sheet_rows;
        let sheet = self.workbook.worksheet_from_index(self.sheets - 1)?;
        sheet.autofilter(0, 0, last_row, COLUMNS.len() as u16 - 1)?;
        Ok(())
    }

    fn sheet(&mut self) -> Result<&mut Worksheet, XlsxError> {
        self.workbook.worksheet_from_index(self.sheets - 1)
    }

    /// Appends one row, on a new sheet when this one is full: never truncates.
    pub fn push(&mut self, redemption: &Redemption) -> Result<(), XlsxError> {
        if self.sheet_rows == self.rows_per_sheet {
            self.add_sheet()?;
        }
        let row = self.sheet_rows + 1;
        let (datetime, amount) = (self.datetime.clone(), self.amount.clone());
        let (discount_type, discount_value) = match redemption.discount {
            Some(Discount::Fixed(money)) => (Some("fixed"), Some(money.minor() as f64 / 100.0)),
            Some(Discount::Percent(percent)) => (
                Some("percent"),
                Some(f64::from(percent.hundredths()) / 100.0),
            ),
            None => (None, None),
        };
        let sign = match redemption.kind {
            RedemptionKind::Consume => 1.0,
            RedemptionKind::Reversal => -1.0,
        };
        let signed = |money: Money| sign * money.minor() as f64 / 100.0;
        let pricing = redemption.pricing.as_ref();
        let consumed_at = UNIX_EPOCH_AS_EXCEL_SERIAL
            + redemption.consumed_at.timestamp_millis() as f64 / MILLIS_PER_DAY;
        let texts = [
            Some(redemption.redemption_id.as_str()),
            Some(redemption.kind.as_str()),
            redemption.reverses.as_deref(),
            Some(redemption.code.as_str()),
            redemption.product_id.as_deref(),
            redemption.promo_type.as_deref(),
            discount_type,
        ];
        let sheet = self.sheet()?;
        for (col, text) in texts.into_iter().enumerate() {
            if let Some(text) = text {
                sheet.write_string(row, col as u16, text)?;
            }
        }
        let numbers = [
            (7, discount_value),
            (10, pricing.map(|p| signed(p.order_amount))),
            (11, pricing.map(|p| signed(p.discount_amount))),
        ];
        for (col, number) in numbers {
            if let Some(number) = number {
                sheet.write_number_with_format(row, col, number, &amount)?;
            }
        }
        for (col, text) in [(8, &redemption.currency), (9, &redemption.customer_id)] {
            if let Some(text) = text {
                sheet.write_string(row, col, text)?;
            }
        }
        // A real Excel datetime: a serial day number with a date format.
        sheet.write_number_with_format(row, 12, consumed_at, &datetime)?;
        if let Some(campaign) = &redemption.campaign {
            sheet.write_string(row, 13, campaign.campaign_id.as_str())?;
        }
        if !redemption.metadata.is_empty() {
            sheet.write_string(row, 14, redemption.metadata.to_json())?;
        }
        self.sheet_rows += 1;
        self.rows += 1;
        Ok(())
    }

    /// Writes the finished workbook to `path`; answers the data rows written.
    pub fn save(mut self, path: &Path) -> Result<u64, XlsxError> {
        self.close_sheet()?;
        self.workbook.save(path)?;
        Ok(self.rows)
    }
}
