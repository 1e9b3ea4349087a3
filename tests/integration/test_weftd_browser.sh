#!/usr/bin/env bash
# test_weftd_browser.sh - weftd in a real browser: headless Chromium,
# driven by Selenium through chromedriver (Debian's chromium,
# chromium-driver and python3-selenium; scripts/install-deps.sh installs
# them). browser_check.py opens the listing, enters a folder, uploads a
# file with the page's form and downloads files back; this script checks
# the bytes on disk on both sides and keeps the screenshot as an artifact:
# BUILD_DIR/test-artifacts/weftd-browser.png.
#
# Usage: bash tests/integration/test_weftd_browser.sh BUILD_DIR
set -euo pipefail
B=$(cd "$1" && pwd)
W=$B/weftd
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$W" ]; then
    echo "SKIP: weftd not built here"
    exit 0
fi
# Debian's python3 has python3-selenium (PATH's python3 may be another).
PY=/usr/bin/python3
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
    ! "$PY" -c 'import selenium' 2>/dev/null; then
    echo "SKIP: chromium, chromedriver or python3-selenium missing" \
        "(scripts/install-deps.sh installs them)"
    exit 0
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() {
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/lib/docs" "$tmp/lib/other" "$tmp/down" "$B/test-artifacts"
head -c 300000 /dev/urandom >"$tmp/lib/docs/data.bin"
echo "already here" >"$tmp/lib/docs/readme.txt"
echo "uploaded from a browser: $(date -u +%s)" >"$tmp/from-browser.txt"

: >"$tmp/d.log"
"$W" --no-landlock --root "$tmp/lib" --listen 127.0.0.1:0 2>"$tmp/d.log" &
pid=$!
for _ in $(seq 200); do
    grep -q '^weftd: serving' "$tmp/d.log" && break
    sleep 0.05
done
port=$(sed -n 's/^weftd: serving .* on [^ ]*:\([0-9][0-9]*\)[ ,].*/\1/p' \
    "$tmp/d.log" | head -n 1)
[ -n "$port" ] || fail "weftd did not start: $(cat "$tmp/d.log")"

shot=$B/test-artifacts/weftd-browser.png
rm -f "$shot"
HOME=$tmp timeout 120 "$PY" "$HERE/browser_check.py" \
    "http://127.0.0.1:$port/" "$tmp/from-browser.txt" "$tmp/down" "$shot" ||
    fail "the browser's steps (above)"

cmp -s "$tmp/from-browser.txt" "$tmp/lib/docs/from-browser.txt" ||
    fail "the uploaded file differs on the server"
cmp -s "$tmp/lib/docs/data.bin" "$tmp/down/data.bin" ||
    fail "the downloaded file differs"
[ -s "$shot" ] && head -c 8 "$shot" | od -An -tx1 | grep -q '89 50 4e 47' ||
    fail "no PNG screenshot at $shot"
kill -TERM "$pid"
wait "$pid" || fail "weftd exited $? after SIGTERM"
pid=
echo "weftd in a browser: all steps hold (screenshot: $shot)"
