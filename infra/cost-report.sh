#!/usr/bin/env bash
# The AWS cost of the function set, measured (issue #11): runs the scenarios
# of tests/tests/suite/aws_cost.rs on LocalStack with metering SDK clients and
# prints one line per scenario,
#
#   cost <scenario> <usd> USD per million
#
# for immediate-robot-run, delayed-robot-run, stage-change-5-robots,
# event-moves-item and immediate-create-task (a create_task robot's run),
# followed by the billed units behind each (DynamoDB request units from the
# actual item sizes, SQS requests, Scheduler
# invocations, Lambda requests and GB-seconds at the template's memory;
# us-east-1 list prices of crm_aws::billing::PRICES).
#
#   infra/cost-report.sh
#
# Starts LocalStack (infra/localstack.sh start) when nothing answers on
# 127.0.0.1:4566 and stops only what it started.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}

if ! infra/localstack.sh status >/dev/null 2>&1; then
  infra/localstack.sh start >&2
  trap 'infra/localstack.sh stop >&2 || true' EXIT
fi

out=$(mktemp)
trap 'rm -f "$out"; '"$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")" EXIT
if ! cargo test -p crm-tests --test suite aws_cost::cost_report -- --nocapture >"$out" 2>&1; then
  cat "$out" >&2
  echo "cost report: the scenarios failed (output above)" >&2
  exit 1
fi
grep -E '^(cost [a-z0-9-]+ [0-9.]+ USD per million$|  units )' "$out"
