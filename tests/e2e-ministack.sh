#!/usr/bin/env bash
# One end-to-end run with no hand-delivered events: infra/template.yaml and
# the four release `bootstrap` zips deployed on MiniStack (which runs Lambda
# functions and fires schedules), then a robot delayed by one minute must run
# by itself (stream → stage-change → schedule/queue → robot-runner) within
# E2E_TIMEOUT seconds (default 150). Driver: tests/e2e_ministack.py.
#
#   infra/release-zips.sh && tests/e2e-ministack.sh
#
# Starts MiniStack on 127.0.0.1:4567 (infra/ministack.sh; LocalStack keeps
# 4566) and stops it at the end unless it was already running.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
T=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=${MS_PORT:-4567}

was_running=false
if infra/ministack.sh status >/dev/null 2>&1; then was_running=true; fi
infra/ministack.sh start
if ! $was_running; then trap 'infra/ministack.sh stop || true' EXIT; fi

started=$(date +%s)
set +e
"${MS_DIR:-$ROOT/target/ministack}/venv/bin/python" tests/e2e_ministack.py \
  --endpoint "http://127.0.0.1:$PORT" \
  --template infra/template.yaml \
  --lambda-dir "$T/lambda" \
  --cli "$T/debug/crm-automation" \
  --timeout "${E2E_TIMEOUT:-150}"
rc=$?
set -e
echo "[e2e-ministack] took $(($(date +%s) - started)) s"
if [ $rc -ne 0 ]; then
  echo "---- last lines of the MiniStack log (function output included) ----"
  infra/ministack.sh logs 60 || true
fi
exit $rc
