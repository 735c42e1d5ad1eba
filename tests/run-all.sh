#!/usr/bin/env bash
# The project's one test command: formatting, lints, every test of the
# workspace (engine, embedded store, HTTP API, local server, Lambda handlers,
# and the contract suite on LocalStack), the CloudFormation lint, and
# schemathesis against the local server and its OpenAPI document.
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

step "cargo fmt --check"
cargo fmt --all -- --check

step "LocalStack"
infra/localstack.sh start
trap 'infra/localstack.sh stop || true' EXIT

step "cfn-lint infra/template.yaml"
infra/lint.sh

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

step "schemathesis against the local server (tests/schemathesis.sh)"
tests/schemathesis.sh
