"""The same redemption rows as functions/exports/examples/workbook_bench.rs,
written by a Python library in its streaming mode: the peers of
`scripts/bench-xlsx.sh`.

usage: python scripts/bench_xlsx.py openpyxl|xlsxwriter ROWS OUT.xlsx
"""

import datetime
import sys
import time

HEADER = ["redemption_id", "kind", "reverses", "code", "product_id", "promo_type",
          "discount_type", "discount_value", "currency", "customer_id", "order_amount",
          "discount_amount", "consumed_at (UTC)", "campaign_id"]
START = datetime.datetime.fromtimestamp(1_795_000_000, datetime.timezone.utc).replace(tzinfo=None)


def rows(n):
    for i in range(n):
        # "reverses" is empty on a consume row, as in the Rust writer.
        yield [f"0194c1a0-0000-7000-8000-{i:012d}", "consume", None, "SUMMER24ABCD", "apple123",
               "voucher", "fixed", 4.99, "EUR", "c-42", 80.0, 4.99,
               START + datetime.timedelta(milliseconds=i * 250)]


def with_openpyxl(n, out):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Redemptions")
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for title in HEADER:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in rows(n):
        ws.append(row)
    ws.auto_filter.ref = f"A1:N{n + 1}"
    wb.save(out)


def with_xlsxwriter(n, out):
    import xlsxwriter
    wb = xlsxwriter.Workbook(out, {"constant_memory": True})
    ws = wb.add_worksheet("Redemptions")
    bold = wb.add_format({"bold": True})
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    amount = wb.add_format({"num_format": "0.00"})
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, HEADER, bold)
    for r, row in enumerate(rows(n), start=1):
        for c in (0, 1, 3, 4, 5, 6, 8, 9):
            ws.write_string(r, c, row[c])
        for c in (7, 10, 11):
            ws.write_number(r, c, row[c], amount)
        ws.write_datetime(r, 12, row[12], when)
    ws.autofilter(0, 0, n, 13)
    wb.close()


if __name__ == "__main__":
    library, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    started = time.perf_counter()
    {"openpyxl": with_openpyxl, "xlsxwriter": with_xlsxwriter}[library](n, out)
    print(f"{library}: {n} rows in {time.perf_counter() - started:.2f} s", file=sys.stderr)
