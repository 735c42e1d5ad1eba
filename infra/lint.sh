#!/usr/bin/env bash
# Lint infra/template.yaml with cfn-lint (pinned in localstack-requirements.txt),
# using the LocalStack venv; installs cfn-lint there if it is missing.
#   infra/lint.sh [extra cfn-lint args]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
S=${LS_DIR:-$ROOT/target/localstack}
VERSION=$(sed -n 's/^cfn-lint==//p' "$HERE/localstack-requirements.txt")
if [ ! -x "$S/venv/bin/cfn-lint" ]; then
  if [ ! -x "$S/venv/bin/python" ]; then
    # The full LocalStack venv (CPython 3.13) also serves cfn-lint and awscli.
    "$HERE/localstack.sh" install
  fi
  [ -x "$S/venv/bin/cfn-lint" ] ||
    "$S/venv/bin/pip" install -q --disable-pip-version-check "cfn-lint==$VERSION"
fi
"$S/venv/bin/cfn-lint" --version
"$S/venv/bin/cfn-lint" "$@" -- "$HERE/template.yaml"
echo "cfn-lint: infra/template.yaml OK"
