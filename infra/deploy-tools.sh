#!/usr/bin/env bash
# The deploy tools, pinned (infra/deploy-tools-requirements.txt), in a venv
# under target/: AWS SAM CLI (`sam validate`, `sam build`, `sam deploy`) and
# cargo-lambda (Lambda zips; it brings zig through the ziglang package, so
# no cross toolchain is needed). Installed from PyPI on first use (~50 s),
# reused while the pinned list is unchanged.
#
#   infra/deploy-tools.sh install          only install
#   infra/deploy-tools.sh run CMD [ARGS]   run CMD with the tools first on PATH
#   infra/deploy-tools.sh bin              print the tools' bin directory
#
# Needs CPython >= 3.9 (python3, or DT_PYTHON). State: target/deploy-tools (DT_DIR).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
S=${DT_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/deploy-tools}
REQS="$HERE/deploy-tools-requirements.txt"

install() {
  mkdir -p "$S"
  exec 9>"$S/.lock"
  flock -w 1200 9 || { echo "deploy-tools: timed out waiting for another install" >&2; exit 1; }
  local want have py=${DT_PYTHON:-python3}
  want=$(sha256sum "$REQS" | cut -d' ' -f1)
  have=$(cat "$S/venv/.requirements.sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    echo "deploy-tools: installing aws-sam-cli and cargo-lambda into $S/venv (~50 s)" >&2
    rm -rf "$S/venv"
    "$py" -m venv "$S/venv"
    "$S/venv/bin/pip" install -q --disable-pip-version-check -r "$REQS"
    echo "$want" >"$S/venv/.requirements.sha256"
  fi
  exec 9>&-
}

case "${1:-install}" in
install) install ;;
bin)
  install
  echo "$S/venv/bin"
  ;;
run)
  shift
  install
  # sam and cargo-lambda without telemetry or update checks (no network but the registries).
  PATH="$S/venv/bin:$PATH" SAM_CLI_TELEMETRY=0 exec "$@"
  ;;
*)
  echo "usage: $0 install|bin|run CMD [ARGS]" >&2
  exit 2
  ;;
esac
