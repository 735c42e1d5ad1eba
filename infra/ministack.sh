#!/usr/bin/env bash
# MiniStack on the host, without Docker: the second AWS emulator, the one that
# runs Lambda functions (host `bootstrap` binaries), fires EventBridge
# Scheduler `at()` schedules, and deploys CloudFormation templates with the
# SAM transform. Used by the end-to-end test (tests/e2e-ministack.sh).
#
#   infra/ministack.sh start    install on first use (~20 s), start, wait until healthy
#   infra/ministack.sh stop     stop what `start` started (and the function processes it ran)
#   infra/ministack.sh status   exit 0 if it answers
#   infra/ministack.sh logs     tail the log
#
# It listens on 127.0.0.1:4567 (MS_PORT), NOT 4566: LocalStack keeps 4566 and
# stays running beside it. MiniStack runs with AWS_ENDPOINT_URL pointing at
# itself, so the functions it runs (which inherit its environment) call it
# back instead of real AWS. State lives in target/ministack (MS_DIR).
# Needs CPython >= 3.10 (python3, or MS_PYTHON) and curl.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
S=${MS_DIR:-$ROOT/target/ministack}
PORT=${MS_PORT:-4567}
URL="http://127.0.0.1:$PORT"
HEALTH="$URL/_localstack/health"
REQS="$HERE/ministack-requirements.txt"
PIDFILE="$S/ministack.pid"
LOG="$S/ministack.log"

say() { printf 'ministack: %s\n' "$*"; }
die() {
  printf 'ministack: error: %s\n' "$*" >&2
  exit 1
}

healthy() { curl -sf -m 2 "$HEALTH" >/dev/null 2>&1; }

our_pid() {
  local p
  p=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q ministack; then
    echo "$p"
  fi
}

# Reinstall only when the pinned list changed (its hash is kept in the venv).
install() {
  local want have py=${MS_PYTHON:-python3}
  want=$(sha256sum "$REQS" | cut -d' ' -f1)
  have=$(cat "$S/venv/.requirements.sha256" 2>/dev/null || true)
  [ "$want" = "$have" ] && return 0
  "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
    die "$py is older than CPython 3.10 (set MS_PYTHON)"
  say "installing MiniStack into $S/venv (~20 s, ~110 MB)"
  rm -rf "$S/venv"
  "$py" -m venv "$S/venv"
  "$S/venv/bin/pip" install -q --disable-pip-version-check -r "$REQS" || die "pip install failed"
  echo "$want" >"$S/venv/.requirements.sha256"
}

start() {
  local p
  p=$(our_pid)
  if [ -n "$p" ] && healthy; then
    say "already running at $URL (pid $p)"
    return 0
  fi
  [ -z "$p" ] || stop
  if curl -s -o /dev/null -m 2 "$URL/" 2>/dev/null; then
    die "something else listens on 127.0.0.1:$PORT; free the port or set MS_PORT"
  fi
  install
  mkdir -p "$S/tmp"
  : >"$LOG"
  # setsid: survive the caller's process group; the function processes are
  # MiniStack's children and go with it.
  env BIND_HOST=127.0.0.1 GATEWAY_PORT="$PORT" MINISTACK_HOST=127.0.0.1 \
    TMPDIR="$S/tmp" LOG_LEVEL=WARNING \
    AWS_ENDPOINT_URL="$URL" AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    setsid nohup "$S/venv/bin/ministack" >>"$LOG" 2>&1 </dev/null 9>&- &
  p=$!
  echo "$p" >"$PIDFILE"
  for _ in $(seq 1 200); do
    kill -0 "$p" 2>/dev/null || {
      tail -40 "$LOG" >&2
      die "MiniStack exited during start-up"
    }
    if healthy; then
      say "up at $URL (pid $p)"
      return 0
    fi
    sleep 0.1
  done
  tail -40 "$LOG" >&2
  stop
  die "MiniStack not healthy after 20 s; stopped it"
}

# All descendants of $1 (the function processes MiniStack started).
descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null || true); do
    echo "$c"
    descendants "$c"
  done
}

stop() {
  local p kids
  p=$(our_pid)
  if [ -z "$p" ]; then
    rm -f "$PIDFILE"
    say "not running (nothing started by this script)"
    return 0
  fi
  kids=$(descendants "$p" | tr '\n' ' ')
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL "$p" $kids 2>/dev/null || true
  rm -f "$PIDFILE"
  say "stopped (pid $p)"
}

cmd=${1:-start}
mkdir -p "$S"
case "$cmd" in
start | stop | install)
  exec 9>"$S/.lock"
  flock -w 120 9 || die "timed out waiting for another ministack.sh"
  "$cmd"
  ;;
status)
  if healthy; then say "running at $URL"; else
    say "not running"
    exit 3
  fi
  ;;
logs) tail -n "${2:-100}" "$LOG" ;;
*)
  echo "usage: $0 start|stop|status|install|logs" >&2
  exit 2
  ;;
esac
