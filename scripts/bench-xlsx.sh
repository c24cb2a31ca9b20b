#!/usr/bin/env bash
# `make bench`, part 2: the export's workbook writer against Python's two
# streaming xlsx writers, the same rows in the same run. Prints a Markdown
# table for BENCHMARKS.md.   usage: scripts/bench-xlsx.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
scripts/bootstrap.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check openpyxl==3.1.5 XlsxWriter==3.3.1
if [ ! -x /usr/bin/time ]; then
  apt-get install -y -qq time >/dev/null
fi
cargo build --quiet --profile measure -p exports --example workbook_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Wall seconds and peak RSS (kB) of one run, as GNU time measures them.
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" 2>/dev/null
  read -r secs kb <"$work/$name.time"
  echo "$name $secs $kb $(stat -c %s "$work/$name.xlsx")"
}

{
  measure rust target/measure/examples/workbook_bench "$rows" "$work/rust.xlsx"
  measure xlsxwriter .venv/bin/python scripts/bench_xlsx.py xlsxwriter "$rows" "$work/xlsxwriter.xlsx"
  measure openpyxl .venv/bin/python scripts/bench_xlsx.py openpyxl "$rows" "$work/openpyxl.xlsx"
} >"$work/results"

# Past Excel's sheet limit the writer goes on in a new sheet: the real
# limit, through the same code path the roll-over test uses with a small one.
past_limit=1050000
target/measure/examples/workbook_bench "$past_limit" "$work/past-limit.xlsx" 2>/dev/null
# Data rows per sheet: <row> elements less each sheet's header.
sheets=$(.venv/bin/python - "$work/past-limit.xlsx" <<'PY'
import sys, zipfile
book = zipfile.ZipFile(sys.argv[1])
names = sorted(n for n in book.namelist() if n.startswith("xl/worksheets/sheet"))
print(" + ".join(str(book.read(n).count(b"<row ") - 1) for n in names))
PY
)
if [ "$sheets" != "1048575 + 1425" ]; then
  echo "bench-xlsx: $past_limit rows came out as $sheets data rows per sheet" >&2
  exit 1
fi

awk -v rows="$rows" '
  { name[NR] = $1; secs[NR] = $2; kb[NR] = $3; size[NR] = $4 }
  END {
    print "| writer | rows | wall time (s) | peak RSS (MB) | file (MB) | our speed-up over it |"
    print "|---|---|---|---|---|---|"
    labels["rust"] = "this service (rust_xlsxwriter 0.102, constant memory)"
    labels["xlsxwriter"] = "Python XlsxWriter 3.3.1 (constant_memory)"
    labels["openpyxl"] = "Python openpyxl 3.1.5 (write_only)"
    for (i = 1; i <= NR; i++) {
      ratio = (name[i] == "rust") ? "1.0" : sprintf("%.1f", secs[i] / secs[1])
      printf "| %s | %d | %.2f | %.1f | %.1f | %s |\n", labels[name[i]], rows, secs[i], kb[i] / 1024, size[i] / 1048576, ratio
    }
  }' "$work/results"
echo
echo "$past_limit rows, past the 1,048,575 data rows a sheet holds: $sheets data rows in two sheets, none lost."
