// Drives the Bitrix24 REST adapter with the official JS SDK
// (@bitrix24/b24jssdk, B24Hook) over HTTPS. Run by tests/bitrix-sdk/run.sh,
// which sets CRM_BASE, CRM_KEY, HOOK_URL (https://…/rest/<id>/<secret>),
// DEAL_ID, LEAD_ID and NODE_EXTRA_CA_CERTS.
import { B24Hook } from '@bitrix24/b24jssdk'

const { CRM_BASE, CRM_KEY, HOOK_URL, DEAL_ID, LEAD_ID } = process.env

async function api (path) {
  const r = await fetch(CRM_BASE + path, { headers: { Authorization: `Bearer ${CRM_KEY}` } })
  return r.json()
}

async function waitStage (item, stage) {
  for (let i = 0; i < 100; i++) {
    if ((await api(`/v1/items/${item}`)).stage_id === stage) return
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`${item} did not reach ${stage}`)
}

function check (name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail ? `: ${JSON.stringify(detail)}` : ''}`)
  if (!ok) process.exit(1)
}

const b24 = B24Hook.fromWebhookUrl(HOOK_URL)
b24.offClientSideWarning()
const call = async (method, params) => (await b24.actions.v2.call.make({ method, params })).getData().result

check('trigger.add', await call('crm.automation.trigger.add', { CODE: 'js.won', NAME: 'Won (JS)' }) === true)
const listed = await call('crm.automation.trigger.list', {})
check('trigger.list', listed.some(t => t.CODE === 'js.won' && t.NAME === 'Won (JS)'), listed)

// execute: the deal (moved to "paid" by the Python test) goes on to "won".
check('trigger.execute', await call('crm.automation.trigger.execute', { CODE: 'js.won', OWNER_TYPE_ID: 2, OWNER_ID: DEAL_ID }) === true)
await waitStage(DEAL_ID, 'won')
check('the deal moved to won', true)

// The incoming-webhook "track" URL (GET with query parameters) moves a lead.
const track = `${HOOK_URL.replace(/\/$/, '')}/crm.automation.trigger/?target=LEAD_${LEAD_ID}&code=lead.called&bx24_request_id=1`
const r = await fetch(track)
const body = await r.json()
check('the GET track URL answers true', r.status === 200 && body.result === true && body.time, body)
await waitStage(LEAD_ID, 'contacted')
check('the lead moved', true)

check('trigger.delete', await call('crm.automation.trigger.delete', { CODE: 'js.won' }) === true)

const wrong = B24Hook.fromWebhookUrl(HOOK_URL.replace(/\/[^/]+\/?$/, '/wrong-secret'))
wrong.offClientSideWarning()
try {
  await wrong.actions.v2.call.make({ method: 'crm.automation.trigger.list', params: {} })
  check('a wrong secret is refused', false, 'no error')
} catch (e) {
  check('a wrong secret is an auth error (invalid_token, 401)', e.code === 'invalid_token' && e.status === 401, { code: e.code, status: e.status })
}
console.log('b24jssdk: all checks passed')
