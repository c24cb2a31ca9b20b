#!/usr/bin/env bash
# LibreOffice's headless Calc and poppler's PDF tools, from Debian, for the
# test that prints an export (tests/api/printed_export.rs).
set -euo pipefail
if command -v soffice >/dev/null && command -v pdftotext >/dev/null; then
  exit 0
fi
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libreoffice-calc-nogui poppler-utils >/dev/null
}
echo "print-tools: installing libreoffice-calc-nogui and poppler-utils from Debian" >&2
# Package lists may be missing or stale on a fresh machine.
install || { as_root apt-get update -qq && install; }
