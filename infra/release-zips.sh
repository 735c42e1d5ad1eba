#!/usr/bin/env bash
# The four Lambda release zips, built once for CI, the end-to-end test and a
# deploy: target/lambda/crm-fn-{api,stage-change,trigger-eval,robot-runner}/bootstrap.zip
# (a `bootstrap` executable at the zip's root, as provided.al2023 runs it).
#
#   infra/release-zips.sh            x86_64 (what CI builds)
#   ARCH=arm64 infra/release-zips.sh aarch64 (needs `rustup target add aarch64-unknown-linux-gnu`;
#                                    then deploy with Architecture=arm64)
#
# One `cargo lambda build` for the four packages: one feature resolution, one
# compile of the shared dependencies (four separate builds, as `sam build`
# runs them, re-resolve features per package). cargo-lambda links with zig
# against an old glibc, so the binaries run on Amazon Linux 2023.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
case "${ARCH:-x86_64}" in
x86_64) arch=--x86-64 ;;
arm64) arch=--arm64 ;;
*) echo "ARCH must be x86_64 or arm64" >&2; exit 2 ;;
esac
started=$(date +%s)
"$HERE/deploy-tools.sh" run cargo lambda build --release "$arch" --output-format zip \
  -p crm-fn-api -p crm-fn-stage-change -p crm-fn-trigger-eval -p crm-fn-robot-runner
T=${CARGO_TARGET_DIR:-$ROOT/target}
for f in api stage-change trigger-eval robot-runner; do
  z="$T/lambda/crm-fn-$f/bootstrap.zip"
  [ -s "$z" ] || { echo "release-zips: $z missing" >&2; exit 1; }
  printf 'release-zips: %s (%s bytes)\n' "$z" "$(stat -c %s "$z")"
done
echo "release-zips: done in $(($(date +%s) - started)) s"
