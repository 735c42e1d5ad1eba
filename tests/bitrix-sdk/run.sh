#!/usr/bin/env bash
# The Bitrix24 REST adapter driven by the official SDKs over HTTPS:
# b24pysdk (PyPI, pinned in requirements.txt, in a venv under the target
# directory) and @bitrix24/b24jssdk (npm, pinned in package.json, in
# tests/bitrix-sdk/node_modules).
#
#   tests/bitrix-sdk/run.sh
#   tests/bitrix-sdk/run.sh install   only install the SDKs
#
# Generates a throwaway certificate for 127.0.0.1 (openssl), starts
# `crm-automation serve --tls-cert … --tls-key …` on a free port with a low
# per-tenant rate (so that a burst meets 503 QUERY_LIMIT_EXCEEDED), sets up a
# deal pipeline (webhook trigger `paid` → stage `paid` with a robot; `won`),
# a lead pipeline (webhook trigger `lead.called` → `contacted`), a deal, a
# lead and an inbound-webhook credential through the API, then runs
# test_pysdk.py and test_jssdk.mjs. Exits non-zero on any failure.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$TARGET/bitrix-sdk-venv
say() { printf '[bitrix-sdk] %s\n' "$*"; }

# --- the SDKs ------------------------------------------------------------
if ! cmp -s "$HERE/requirements.txt" "$VENV/requirements.txt" 2>/dev/null; then
  PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
  say "installing $(cat "$HERE/requirements.txt") into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/requirements.txt"
fi
if [ ! -d "$HERE/node_modules/@bitrix24/b24jssdk" ]; then
  say "installing @bitrix24/b24jssdk from npm"
  (cd "$HERE" && npm install --no-audit --no-fund --silent)
fi
[ "${1:-}" = install ] && exit 0

# --- certificate and server ----------------------------------------------
say "building crm-automation"
cargo build --quiet -p crm-automation
BIN=$TARGET/debug/crm-automation
WORK=$(mktemp -d)
LOG=$WORK/server.log
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
KEY=sdk-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=https://127.0.0.1:$PORT
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
CRM_API_KEYS="sdk:$KEY" RUST_LOG=${RUST_LOG:-warn} \
  "$BIN" serve --data "$WORK/data" --addr "127.0.0.1:$PORT" \
  --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" \
  --tenant-rate 20 --tenant-burst 20 >"$LOG" 2>&1 &
SERVER_PID=$!
C=(curl -fsS --cacert "$WORK/cert.pem")
for _ in $(seq 1 100); do
  if "${C[@]}" "$BASE/v1/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then say "the server did not start:"; cat "$LOG"; exit 1; fi
  sleep 0.2
done
"${C[@]}" "$BASE/v1/health" >/dev/null || { say "the server does not answer over TLS:"; cat "$LOG"; exit 1; }
say "serving $BASE"

# --- setup through the API (paced: the tenant's rate is low) --------------
A=(-H "Authorization: Bearer $KEY" -H 'content-type: application/json')
call() { sleep 0.06; "${C[@]}" "${A[@]}" -X "$1" "$BASE$2" ${3:+-d "$3"}; }
call PUT /v1/users/u-anna '{"name":"Anna","time_zone":"UTC"}' >/dev/null
call PUT /v1/pipelines/deals '{"entity_type":"deal","name":"Deals","stages":[
  {"id":"new","name":"New","semantic":"process"},{"id":"paid","name":"Paid","semantic":"process"},
  {"id":"won","name":"Won","semantic":"success"}]}' >/dev/null
call POST /v1/pipelines/deals/triggers '{"stage_id":"paid","type":"webhook","name":"Paid",
  "condition":null,"allow_backwards":false,"settings":{"code":"paid"}}' >/dev/null
call POST /v1/pipelines/deals/triggers '{"stage_id":"won","type":"webhook","name":"Won",
  "condition":null,"allow_backwards":false,"settings":{"code":"js.won"}}' >/dev/null
call POST /v1/pipelines/deals/robots '{"stage_id":"paid","type":"add_timeline_comment","name":"Thank",
  "delay":{"mode":"immediately"},"respect_working_hours":false,"condition":null,"after_previous":false,
  "settings":{"text":"Thank you for the payment"}}' >/dev/null
call PUT /v1/pipelines/leads '{"entity_type":"lead","name":"Leads","stages":[
  {"id":"new","name":"New","semantic":"process"},{"id":"contacted","name":"Contacted","semantic":"process"}]}' >/dev/null
call POST /v1/pipelines/leads/triggers '{"stage_id":"contacted","type":"webhook","name":"Called",
  "condition":null,"allow_backwards":false,"settings":{"code":"lead.called"}}' >/dev/null
DEAL_ID=$(call POST /v1/items '{"pipeline_id":"deals","title":"Website","responsible_id":"u-anna"}' | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
LEAD_ID=$(call POST /v1/items '{"pipeline_id":"leads","title":"Caller","responsible_id":"u-anna"}' | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
HOOK=$(call POST /v1/rest-webhooks '{"user_id":"u-anna","label":"sdk tests"}')
HOOK_PATH=$(printf '%s' "$HOOK" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["url"])')
TOKEN=$(printf '%s' "$HOOK_PATH" | sed -E 's#^/rest/([^/]+)/([^/]+)/$#\1/\2#')
sleep 1.5

status=0
say "b24pysdk"
CRM_BASE=$BASE CRM_KEY=$KEY B24_DOMAIN=127.0.0.1:$PORT B24_TOKEN=$TOKEN DEAL_ID=$DEAL_ID \
  REQUESTS_CA_BUNDLE=$WORK/cert.pem "$VENV/bin/python" "$HERE/test_pysdk.py" || status=1
sleep 1.5
say "b24jssdk"
(cd "$HERE" && CRM_BASE=$BASE CRM_KEY=$KEY HOOK_URL="$BASE/rest/$TOKEN" DEAL_ID=$DEAL_ID LEAD_ID=$LEAD_ID \
  NODE_EXTRA_CA_CERTS=$WORK/cert.pem node test_jssdk.mjs) || status=1

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  say "the server died:"; tail -50 "$LOG"; status=1
elif grep -qE 'panicked| ERROR ' "$LOG"; then
  say "the server logged errors:"; grep -E -m 20 'panicked| ERROR ' "$LOG"; status=1
fi
[ "$status" -eq 0 ] && say "passed" || say "FAILED"
exit "$status"
