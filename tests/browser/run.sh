#!/usr/bin/env bash
# The board's end-to-end test in a real headless Chromium.
#
#   tests/browser/run.sh
#   tests/browser/run.sh install   only install chromium and playwright-core
#
# Installs what it needs when missing (Debian's `chromium` with apt-get,
# `playwright-core` from npm — it drives the system Chromium, downloads no
# browser), builds and starts `crm-automation serve --demo --clock manual`
# on a free port with a fresh data directory and generated keys, runs
# board.test.mjs, reports.test.mjs, documents.test.mjs, apps.test.mjs and
# channels.test.mjs against it and
# stops the server. Screenshots of every page
# go to $CARGO_TARGET_DIR/screenshots/ (not committed).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
say() { printf '[browser] %s\n' "$*"; }

if ! command -v chromium >/dev/null 2>&1; then
  say "installing Debian's chromium"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
  say "installing playwright-core from npm"
  (cd "$HERE" && npm install --no-audit --no-fund --silent)
fi
[ "${1:-}" = install ] && exit 0

say "building crm-automation"
cargo build --quiet -p crm-automation
BIN=$TARGET/debug/crm-automation

DATA=$(mktemp -d)
rand() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
KEY=k-$(rand)
ADMIN=a-$(rand)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT

CRM_API_KEYS="demo:$KEY" CRM_ADMIN_KEY="$ADMIN" RUST_LOG=warn \
  "$BIN" serve --demo --clock manual --addr "127.0.0.1:$PORT" --data "$DATA" \
    --inbound-domain in.browser.test >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$DATA/server.log"; exit 1; fi
  sleep 0.1
done

# A member key (read, create and move items; no automation or directory
# edits), where this build's `keys add` knows roles; else the test skips it.
MEMBER=$("$BIN" keys add --data "$DATA" --tenant demo --label browser-member --role member 2>/dev/null) || MEMBER=
[ -n "$MEMBER" ] || say "keys add --role member is not supported by this build: the member check is skipped"

mkdir -p "$TARGET/screenshots"
rm -f "$TARGET/screenshots"/*.png
say "running board.test.mjs against http://127.0.0.1:$PORT"
BASE="http://127.0.0.1:$PORT" KEY="$KEY" ADMIN="$ADMIN" MEMBER="$MEMBER" SHOTS="$TARGET/screenshots" \
  CHROMIUM=$(command -v chromium) node "$HERE/board.test.mjs" || { tail -30 "$DATA/server.log"; exit 1; }
BASE="http://127.0.0.1:$PORT" KEY="$KEY" ADMIN="$ADMIN" SHOTS="$TARGET/screenshots" CHROMIUM=$(command -v chromium) node "$HERE/reports.test.mjs" || { tail -30 "$DATA/server.log"; exit 1; }
BASE="http://127.0.0.1:$PORT" KEY="$KEY" MEMBER="$MEMBER" SHOTS="$TARGET/screenshots" CHROMIUM=$(command -v chromium) node "$HERE/documents.test.mjs" || { tail -30 "$DATA/server.log"; exit 1; }
BASE="http://127.0.0.1:$PORT" KEY="$KEY" SHOTS="$TARGET/screenshots" CHROMIUM=$(command -v chromium) node "$HERE/apps.test.mjs" || { tail -30 "$DATA/server.log"; exit 1; }
BASE="http://127.0.0.1:$PORT" KEY="$KEY" SHOTS="$TARGET/screenshots" CHROMIUM=$(command -v chromium) node "$HERE/channels.test.mjs" || { tail -30 "$DATA/server.log"; exit 1; }
