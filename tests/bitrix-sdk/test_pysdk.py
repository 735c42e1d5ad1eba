"""Drives the Bitrix24 REST adapter with the official Python SDK (b24pysdk)
over HTTPS, as an integrator's code would: only the portal domain and the
webhook token change. Run by tests/bitrix-sdk/run.sh, which sets:

  CRM_BASE (https://127.0.0.1:PORT), CRM_KEY (tenant API key), B24_DOMAIN
  (127.0.0.1:PORT), B24_TOKEN (<id>/<secret>), DEAL_ID, REQUESTS_CA_BUNDLE.
"""

import concurrent.futures
import json
import os
import sys
import time
import urllib.request
import ssl

from b24pysdk import BitrixWebhook, Client
from b24pysdk import errors

BASE = os.environ["CRM_BASE"]
KEY = os.environ["CRM_KEY"]
DEAL = os.environ["DEAL_ID"]
CTX = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])


def api(path):
    req = urllib.request.Request(BASE + path, headers={"Authorization": "Bearer " + KEY})
    with urllib.request.urlopen(req, context=CTX) as r:
        return json.load(r)


def wait_stage(item, stage):
    for _ in range(100):
        if api("/v1/items/" + item)["stage_id"] == stage:
            return
        time.sleep(0.1)
    raise AssertionError(f"{item} did not reach {stage}: {api('/v1/items/' + item)}")


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail and not ok else ""))
    if not ok:
        sys.exit(1)


client = Client(BitrixWebhook(domain=os.environ["B24_DOMAIN"], webhook_token=os.environ["B24_TOKEN"]))
trig = client.crm.automation.trigger

check("trigger.add", trig.add(code="py.paid", name="Paid (Python)").result is True)
check("trigger.add upserts", trig.add(code="py.paid", name="Payment received").result is True)
listed = trig.list().result
check("trigger.list", {"NAME": "Payment received", "CODE": "py.paid"} in listed, listed)

# The deal's webhook trigger listens to code "paid": the call moves it and the
# stage's robot runs.
check("crm.automation.trigger", trig(f"DEAL_{DEAL}", code="paid").result is True)
wait_stage(DEAL, "paid")
# The robot runs after the move, on the worker: wait for its comment.
for _ in range(100):
    timeline = api(f"/v1/items/{DEAL}/timeline?kind=comment")["entries"]
    if any("Thank you" in e["text"] for e in timeline):
        break
    time.sleep(0.1)
check("the robot of the new stage ran", any("Thank you" in e["text"] for e in timeline), timeline)

check("trigger.delete", trig.delete(code="py.paid").result is True)
listed = trig.list().result
check("deleted", all(t["CODE"] != "py.paid" for t in listed), listed)

user_id = os.environ["B24_TOKEN"].split("/")[0]
wrong = Client(BitrixWebhook(domain=os.environ["B24_DOMAIN"], webhook_token=f"{user_id}/wrong-secret"))
try:
    wrong.crm.automation.trigger.list().result
    check("a wrong secret is refused", False, "no error")
except errors.BitrixAPIInvalidToken:
    check("a wrong secret is an auth error (BitrixAPIInvalidToken)", True)

# A burst above the tenant's rate: some raw calls get 503 QUERY_LIMIT_EXCEEDED,
# the SDK's calls all succeed through its retries.
def raw_list(_):
    url = f"{BASE}/rest/{os.environ['B24_TOKEN']}/crm.automation.trigger.list.json"
    req = urllib.request.Request(url, data=b"{}", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=CTX) as r:
            return r.status, ""
    except urllib.error.HTTPError as e:
        return e.code, json.load(e).get("error")


with concurrent.futures.ThreadPoolExecutor(8) as pool:
    answers = list(pool.map(raw_list, range(60)))
limited = [a for a in answers if a[0] == 503]
check("a burst gets 503 QUERY_LIMIT_EXCEEDED", limited and all(e == "QUERY_LIMIT_EXCEEDED" for _, e in limited), answers)
time.sleep(1.5)
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(lambda _: trig.list().call().result, range(40)))
check("the SDK's retries get every call of a burst through", len(results) == 40)
print("b24pysdk: all checks passed")
