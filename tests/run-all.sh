#!/usr/bin/env bash
# The project's one test command: formatting, lints, every test of the
# workspace (engine, embedded store, HTTP API, local server, Lambda handlers,
# and the contract suite on LocalStack), the CloudFormation lint, `sam
# validate --lint`, schemathesis against the local server and its OpenAPI
# document, the Bitrix24 SDKs (b24pysdk, b24jssdk) over HTTPS, the board's
# end-to-end tests in headless Chromium, the four
# Lambda release zips, and one end-to-end run of them on
# MiniStack (infra/template.yaml deployed through its CloudFormation).
#
#   tests/run-all.sh
#
# It starts LocalStack on the host when nothing answers on 127.0.0.1:4566
# (installing it on first use, ~2 minutes), reuses a running one (e.g. a
# developer's LocalStack in Docker), and stops only what it started.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Faster cold builds on 2 cores (BUILD.md): no incremental state in one-shot runs.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}

step() { printf '\n==> %s\n' "$*"; }

# A full run needs about 15 GB of disk (the debug build and its 4 test
# binaries, the release zips, LocalStack, MiniStack, Chromium): say so
# plainly up front rather than failing in the middle of a build.
step "disk"
df -h . | tail -1
AVAIL_KB=$(df -Pk . | awk 'NR==2 {print $4}')
if [ "${AVAIL_KB:-0}" -lt $((15 * 1024 * 1024)) ]; then
  echo "warning: only $((AVAIL_KB / 1024)) MB free here; a full run needs about 15 GB" >&2
fi

step "cargo fmt --check"
cargo fmt --all -- --check

# The four release zips build in the background from here to the end-to-end
# step: a cold release build of the SDK stack is the run's longest path
# (about 20–30 minutes beside the debug builds on 2 cores), so it starts
# before anything else. Its own target-triple directory means no lock
# against the debug builds below; it is built once for both the zips and the
# end-to-end run. It installs the deploy tools first (under their lock,
# which `sam validate` below waits on).
step "release zips in the background (infra/release-zips.sh, log: target/release-zips.log)"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
mkdir -p "$TARGET_DIR"
ZIPS_LOG=$TARGET_DIR/release-zips.log
infra/release-zips.sh >"$ZIPS_LOG" 2>&1 &
ZIPS_PID=$!

# Everything the later suites install from the registries (Debian's
# poppler-utils and chromium, schemathesis, the Bitrix24 SDKs, playwright-core,
# MiniStack) installs in the background meanwhile: network time off the path.
step "test tools in the background (log: target/test-tools.log)"
install_test_tools() {
  local pkgs=()
  command -v pdftotext >/dev/null 2>&1 || pkgs+=(poppler-utils)
  command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
  if [ ${#pkgs[@]} -gt 0 ]; then
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${pkgs[@]}"
  fi
  tests/schemathesis.sh install
  tests/bitrix-sdk/run.sh install
  tests/browser/run.sh install
  infra/ministack.sh install
}
TOOLS_LOG=$TARGET_DIR/test-tools.log
install_test_tools >"$TOOLS_LOG" 2>&1 &
TOOLS_PID=$!
trap 'kill "$ZIPS_PID" "$TOOLS_PID" 2>/dev/null || true' EXIT

step "LocalStack"
# Started beside the release build: give it longer than the idle default.
LS_START_TIMEOUT=${LS_START_TIMEOUT:-300} infra/localstack.sh start
trap 'kill "$ZIPS_PID" "$TOOLS_PID" 2>/dev/null || true; infra/localstack.sh stop || true' EXIT

step "cfn-lint infra/template.yaml"
infra/lint.sh

step "sam validate --lint infra/template.yaml (infra/deploy-tools.sh installs aws-sam-cli, cargo-lambda)"
infra/deploy-tools.sh run sam validate --lint -t infra/template.yaml --region "$AWS_REGION"

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "test tools (waiting for the background install; the document tests read PDFs with pdftotext)"
if ! wait "$TOOLS_PID"; then
  tail -40 "$TOOLS_LOG"
  echo "installing the test tools failed" >&2
  exit 1
fi
command -v pdftotext >/dev/null

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

# The two suites that drive the built local server over HTTP from Python
# run side by side (each starts its own server on a free port).
step "schemathesis (tests/schemathesis.sh) and the Bitrix24 SDKs over HTTPS (tests/bitrix-sdk/run.sh), side by side"
cargo build --quiet -p crm-automation
tests/bitrix-sdk/run.sh >"$TARGET_DIR/bitrix-sdk.log" 2>&1 &
SDK_PID=$!
tests/schemathesis.sh
if ! wait "$SDK_PID"; then
  cat "$TARGET_DIR/bitrix-sdk.log"
  echo "Bitrix24 SDK tests failed" >&2
  exit 1
fi
tail -5 "$TARGET_DIR/bitrix-sdk.log"

step "the board in headless Chromium (tests/browser/run.sh installs chromium and playwright-core when missing)"
tests/browser/run.sh

step "release zips (waiting for the background build)"
if ! wait "$ZIPS_PID"; then
  tail -40 "$ZIPS_LOG"
  echo "release zips failed" >&2
  exit 1
fi
tail -6 "$ZIPS_LOG"

step "end-to-end run on MiniStack (tests/e2e-ministack.sh)"
tests/e2e-ministack.sh
