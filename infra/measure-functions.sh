#!/usr/bin/env bash
# Binary size and cold start of each Lambda function, built for release.
#
#   infra/measure-functions.sh            (builds with cargo build --release first)
#
# Cold start = time from exec to the function's first call of the Lambda
# Runtime API's `invocation/next` (what Lambda reports as Init Duration),
# measured against a minimal Runtime API on loopback; median of 7 starts.
# The functions read their config from the environment as on Lambda; with
# AWS_ENDPOINT_URL set (LocalStack defaults) nothing is contacted at init.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
FNS="api stage-change trigger-eval robot-runner"
if [ "${SKIP_BUILD:-}" != 1 ]; then
  cargo build --release $(for f in $FNS; do printf -- '-p crm-fn-%s ' "$f"; done)
fi
python3 - "$ROOT/target/release" $FNS <<'PY'
import http.server, os, socket, statistics, subprocess, sys, threading, time

bindir, fns = sys.argv[1], sys.argv[2:]
first = {}

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/invocation/next") and "t" not in first:
            first["t"] = time.perf_counter()
            first["ev"].set()
        time.sleep(5)  # hold the long poll, like Lambda does between invocations
    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
port = srv.server_address[1]
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}", AWS_LAMBDA_FUNCTION_NAME="measure",
           AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256", AWS_LAMBDA_FUNCTION_VERSION="1", AWS_REGION="us-east-1",
           AWS_ENDPOINT_URL="http://127.0.0.1:4566", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
           CRM_API_KEYS="acme:key", RUST_LOG="warn")
print(f"| function | binary (stripped, x86_64) | cold start (median of 7) |")
print(f"|---|---|---|")
for fn in fns:
    path = os.path.join(bindir, f"crm-fn-{fn}")
    size = os.path.getsize(path) / 1e6
    times = []
    for _ in range(7):
        first.clear(); first["ev"] = threading.Event()
        t0 = time.perf_counter()
        p = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = first["ev"].wait(10)
        p.kill(); p.wait()
        if not ok:
            sys.exit(f"{fn}: never asked for an invocation")
        times.append((first["t"] - t0) * 1000)
    print(f"| {fn} | {size:.1f} MB | {statistics.median(times):.1f} ms |")
srv.shutdown()
PY
