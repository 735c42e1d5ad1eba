"""End-to-end run on MiniStack with no hand-delivered events (driven by tests/e2e-ministack.sh).

Deploys infra/template.yaml itself through MiniStack's CloudFormation (SAM
transform), with the four release `bootstrap` zips uploaded to its S3 and
each function's CodeUri pointed at them. Then, through the deployed HTTP API
(or, where the emulator cannot serve it, the api function invoked with the
event API Gateway would send), it creates a pipeline whose first stage has a
robot delayed by one minute and an item in that stage, and waits until the
robot's run is `done`. Nothing is delivered by hand: the table stream, the
stage-change function, the schedule or queue the engine chose, and the runner
must do it all, as configured by the template.

Prints `1 passed, 0 failed` (or `0 passed, 1 failed`) as its closing line.
"""

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config

# Function resource -> package whose release zip it runs.
FUNCTIONS = {
    "ApiFunction": "crm-fn-api",
    "StageChangeFunction": "crm-fn-stage-change",
    "TriggerEvalFunction": "crm-fn-trigger-eval",
    "RobotRunnerFunction": "crm-fn-robot-runner",
}
TENANT = "e2e"


def log(msg):
    print(f"[e2e-ministack] {msg}", flush=True)


def render_template(text, code_uris):
    """The template with each function's CodeUri replaced by its S3 zip.

    Text-level on purpose: the template's short-form intrinsics (!Ref, !Sub)
    do not load with a plain YAML parser, and everything else must reach
    CloudFormation unchanged.
    """
    out, resource = [], None
    for line in text.splitlines():
        m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if m:
            resource = m.group(1)
        if resource in code_uris and re.match(r"^      CodeUri:", line):
            line = f"      CodeUri: {code_uris[resource]}"
        out.append(line)
    missing = set(code_uris) - {r for r in code_uris if f"CodeUri: {code_uris[r]}" in "\n".join(out)}
    if missing:
        raise SystemExit(f"no CodeUri found for {sorted(missing)} in the template")
    return "\n".join(out) + "\n"


def add_key_after_deploy(outputs, cli, endpoint):
    """The test's API key: made by the project's CLI in the deployed keys
    table (stored hashed; the CLI prints the key once)."""
    cmd = [cli, "keys", "add", "--aws", "--table", outputs["KeysTableName"],
           "--tenant", TENANT, "--label", "e2e"]
    log("adding the API key: " + " ".join(cmd))
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip().splitlines()[-1].strip()


def check_alarms(cw, resources, outputs):
    """Every alarm of the stack exists and notifies the stack's alarm topic."""
    names = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::CloudWatch::Alarm"]
    if not names:
        raise SystemExit("the stack has no alarms")
    found = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=names)["MetricAlarms"]}
    topic = outputs["AlarmTopic"]
    wrong = [n for n in names if n not in found or found[n].get("AlarmActions") != [topic]]
    if wrong:
        raise SystemExit(f"alarms missing or not notifying {topic}: {wrong}")
    log(f"  {len(names)} alarms, all notifying {topic.rsplit(':', 1)[-1]}")


def fix_scaling_configs(lam, mappings):
    """Emulator fix-up: MiniStack's CloudFormation keeps a parameter's value
    in `ScalingConfig.MaximumConcurrency` as the string it is (AWS converts it
    to the integer the API takes; MiniStack's API answers it as an integer
    all the same), and its SQS poller then fails on every poll. Set the same
    value again through the API, which stores an integer."""
    for m in mappings:
        limit = (m.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if limit is not None:
            lam.update_event_source_mapping(UUID=m["UUID"], ScalingConfig={"MaximumConcurrency": int(limit)})
            log(f"  ScalingConfig.MaximumConcurrency {int(limit)} set again on {m['EventSourceArn'].rsplit(':', 1)[-1]}")


def wait_stack(cf, name, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            if status != "CREATE_COMPLETE":
                events = cf.describe_stack_events(StackName=name)["StackEvents"]
                for e in events:
                    if "FAILED" in e.get("ResourceStatus", ""):
                        log(f"  {e['LogicalResourceId']}: {e.get('ResourceStatusReason')}")
                raise SystemExit(f"stack {name}: {status} ({stack.get('StackStatusReason')})")
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        time.sleep(0.5)
    raise SystemExit(f"stack {name} not created within {timeout} s")


class Api:
    """The deployed API: over HTTP when the emulator serves the HTTP API,
    else the api function invoked with API Gateway's payload format 2.0."""

    def __init__(self, endpoint, api_id, function_name, key, lam):
        self.base = f"{endpoint}/_aws/execute-api/{api_id}/$default" if api_id else None
        self.function_name = function_name
        self.key = key
        self.lam = lam
        self.mode = "http" if self.base else "invoke"

    def call(self, method, path, body=None):
        if self.mode == "http":
            try:
                return self._http(method, path, body)
            except _NotServed as e:
                log(f"the emulator does not serve the HTTP API ({e}); invoking the api function as API Gateway would")
                self.mode = "invoke"
        return self._invoke(method, path, body)

    def _http(self, method, path, body):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("authorization", f"Bearer {self.key}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw or b"null")
            except ValueError:
                parsed = None
            # Our router always answers JSON errors; anything else is the emulator's.
            if not (isinstance(parsed, dict) and "error" in parsed and isinstance(parsed["error"], dict)):
                raise _NotServed(f"HTTP {e.code}: {raw[:200]!r}") from None
            return e.code, parsed
        except urllib.error.URLError as e:
            raise _NotServed(str(e)) from None

    def _invoke(self, method, path, body):
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"authorization": f"Bearer {self.key}", "content-type": "application/json"},
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "e2e",
                "domainName": "e2e.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "e2e",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "e2e-ministack"},
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": json.dumps(body) if body is not None else None,
            "isBase64Encoded": False,
        }
        r = self.lam.invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
        payload = json.loads(r["Payload"].read())
        if r.get("FunctionError"):
            raise SystemExit(f"api function failed: {payload}")
        raw = payload.get("body") or "null"
        if payload.get("isBase64Encoded"):
            import base64
            raw = base64.b64decode(raw).decode()
        return payload["statusCode"], json.loads(raw)


class _NotServed(Exception):
    pass


# Function names of the deployed stack, for the logs printed on a failure.
DEPLOYED = {}
ENDPOINT = ["http://127.0.0.1:4567"]


def dump_logs(logs, limit=25):
    """The last lines each deployed function logged (CloudWatch Logs of the emulator)."""
    for res, name in DEPLOYED.items():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except Exception as e:  # noqa: BLE001 - diagnostics only
            log(f"--- {res}: no logs ({e})")
            continue
        log(f"--- {res} ({name}): last {min(limit, len(events))} of {len(events)} log lines")
        for e in events[-limit:]:
            print("   ", e["message"].rstrip()[:400], flush=True)


def expect(status, body, want, what):
    if status != want:
        raise SystemExit(f"{what}: expected HTTP {want}, got {status}: {body}")
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default="http://127.0.0.1:4567")
    ap.add_argument("--template", required=True)
    ap.add_argument("--lambda-dir", required=True, help="target/lambda (cargo lambda build --output-format zip)")
    ap.add_argument("--cli", help="crm-automation binary (for keys stored in DynamoDB)")
    ap.add_argument("--timeout", type=int, default=150, help="seconds from item creation to the robot's run done")
    a = ap.parse_args()
    ENDPOINT[0] = a.endpoint

    cfg = Config(region_name="us-east-1", retries={"max_attempts": 2})
    kw = dict(endpoint_url=a.endpoint, aws_access_key_id="test", aws_secret_access_key="test", config=cfg)
    s3, cf, lam, sqs = (boto3.client(s, **kw) for s in ("s3", "cloudformation", "lambda", "sqs"))

    run = time.strftime("%H%M%S") + secrets.token_hex(2)
    stack = f"crm-e2e-{run}"
    bucket = f"crm-e2e-artifacts-{run}"
    s3.create_bucket(Bucket=bucket)
    code_uris = {}
    for res, pkg in FUNCTIONS.items():
        z = os.path.join(a.lambda_dir, pkg, "bootstrap.zip")
        if not os.path.isfile(z):
            raise SystemExit(f"{z} missing: build with `cargo lambda build --release --output-format zip`")
        s3.upload_file(z, bucket, f"{pkg}.zip")
        code_uris[res] = f"s3://{bucket}/{pkg}.zip"
    text = open(a.template).read()
    body = render_template(text, code_uris)

    t0 = time.time()
    cf.create_stack(StackName=stack, TemplateBody=body,
                    Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
    outputs = wait_stack(cf, stack)
    log(f"stack {stack} CREATE_COMPLETE in {time.time() - t0:.1f} s")
    if not a.cli:
        raise SystemExit("API keys live in DynamoDB: pass --cli (the crm-automation binary)")
    key = add_key_after_deploy(outputs, a.cli, a.endpoint)

    resources = cf.describe_stack_resources(StackName=stack)["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    DEPLOYED.update({res: physical[res] for res in FUNCTIONS})
    for res in FUNCTIONS:
        fn = lam.get_function(FunctionName=physical[res])["Configuration"]
        log(f"  {res}: {fn['FunctionName']} ({fn.get('Runtime')}, {fn.get('Architectures')}, {fn.get('State')})")
    check_alarms(boto3.client("cloudwatch", **kw), resources, outputs)
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    log(f"  event source mappings: {len(mappings)}")
    fix_scaling_configs(lam, mappings)

    api = Api(a.endpoint, physical.get("HttpApi"), physical["ApiFunction"], key, lam)
    pipeline = f"p-{run}"
    user = f"u-{run}"
    expect(*api.call("PUT", f"/v1/users/{user}", {
        "name": "E2E Manager", "email": "manager@example.com", "time_zone": "UTC",
    }), 200, "PUT user")
    expect(*api.call("PUT", f"/v1/pipelines/{pipeline}", {
        "entity_type": "deal", "name": "E2E",
        "stages": [{"id": "new", "name": "New", "semantic": "process"},
                   {"id": "won", "name": "Won", "semantic": "success"}],
    }), 200, "PUT pipeline")
    robot = expect(*api.call("POST", f"/v1/pipelines/{pipeline}/robots", {
        "stage_id": "new", "type": "add_history_record", "name": "One minute later",
        "delay": {"mode": "after", "amount": 1, "unit": "minutes"},
        "settings": {"text": "a minute in {{stage.name}}"},
    }), 201, "POST robot")
    log(f"API reached by: {api.mode}")
    item = expect(*api.call("POST", "/v1/items", {
        "entity_type": "deal", "pipeline_id": pipeline, "stage_id": "new", "title": "E2E deal", "amount": 100,
        "currency": "USD", "responsible_id": user,
    }), 201, "POST item")
    created = time.time()
    log(f"item {item['id']} created in stage 'new'; robot {robot['id']} due in one minute")

    deadline = created + a.timeout
    last = None
    while time.time() < deadline:
        _, runs = api.call("GET", f"/v1/items/{item['id']}/runs")
        mine = [r for r in runs.get("runs", []) if r.get("robot_id") == robot["id"]]
        state = [(r.get("status"), r.get("due_at")) for r in mine]
        if state != last:
            log(f"  t+{time.time() - created:5.1f} s: {state or 'no run yet'}")
            last = state
        if any(r.get("status") == "done" for r in mine):
            done = next(r for r in mine if r["status"] == "done")
            if len(mine) != 1:
                raise SystemExit(f"expected one run of the robot, got {mine}")
            log(f"run done {time.time() - created:.1f} s after the item was created "
                f"(due_at {done.get('due_at')}, finished_at {done.get('finished_at')})")
            _, timeline = api.call("GET", f"/v1/items/{item['id']}/timeline")
            texts = [e.get("text") for e in timeline.get("entries", [])]
            if "a minute in New" not in texts:
                raise SystemExit(f"the robot's history record is missing from the timeline: {texts}")
            return
        if any(r.get("status") in ("failed", "cancelled", "skipped", "loop_stopped") for r in mine):
            raise SystemExit(f"the run ended badly: {mine}")
        time.sleep(2)
    dlqs = {k: v for k, v in outputs.items() if k.endswith("DeadLetterQueueUrl")}
    for name, url in dlqs.items():
        n = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        log(f"  {name}: {n['Attributes']['ApproximateNumberOfMessages']} message(s)")
    raise SystemExit(f"the robot's run was not done within {a.timeout} s: {last}")


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        if e.code not in (None, 0):
            print(f"[e2e-ministack] FAILED: {e.code}", flush=True)
            if DEPLOYED:
                dump_logs(boto3.client("logs", endpoint_url=ENDPOINT[0], region_name="us-east-1",
                                       aws_access_key_id="test", aws_secret_access_key="test"))
            print("0 passed, 1 failed")
            sys.exit(1)
        raise
    print("1 passed, 0 failed")
