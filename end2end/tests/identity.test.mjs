// Identity (issue 22) in Chromium: an admin reviews a candidate pair the rules propose
// (a store member and a mini-program member with the same WeChat unionid), merges it,
// and sees the survivor's 360 with both channels' orders and both members' identities;
// then undoes the merge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, apiFetch, eventually, getJson, launchBrowser, startServer } from './support.mjs';

const env = {};
before(async () => {
  env.server = await startServer({ demoMembers: 300 });
  env.browser = await launchBrowser(env.server);
});
after(async () => {
  await env.browser?.close();
  await env.server?.stop();
});

async function ingest(table, rows) {
  const r = await apiFetch(`${env.server.base}/api/v1/ingest/${table}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(rows),
  });
  const body = await r.json();
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.equal(body.rejected.length, 0, JSON.stringify(body));
}

test('an admin reviews a candidate, merges it, and sees one member with both channels', async () => {
  const base = env.server.base;
  await ingest('members', [
    { member_id: 'e2e-S', joined_at: '2024-01-10', join_channel: 'store' },
    { member_id: 'e2e-T', joined_at: '2024-05-01', join_channel: 'mini_program' },
  ]);
  await ingest('member_identities', [
    { member_id: 'e2e-S', kind: 'pos_card', value: 'CARD-E2E' },
    { member_id: 'e2e-S', kind: 'wechat_unionid', value: 'UNION-E2E' },
    { member_id: 'e2e-T', kind: 'mini_program_openid', value: 'OPEN-E2E' },
    { member_id: 'e2e-T', kind: 'wechat_unionid', value: 'UNION-E2E' },
  ]);
  await ingest('orders', [
    { order_id: 'e2e-o1', ordered_at: '2024-06-01T10:00:00', net_amount: '88.00', member_id: 'e2e-S', channel: 'store' },
    { order_id: 'e2e-o2', ordered_at: '2024-06-02T10:00:00', net_amount: '66.00', member_id: 'e2e-T', channel: 'mini_program' },
  ]);
  await eventually(async () => assert.equal((await getJson(`${base}/api/v1/members/e2e-T`)).orders.length, 1));

  const page = await env.browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${base}/identity`);
  const row = await page.waitForSelector('body[data-hydrated="true"] #candidates tr[data-survivor="e2e-S"][data-merged="e2e-T"]');
  const text = await row.textContent();
  assert.match(text, /wechat_unionid = UNION-E2E/);
  assert.match(text, /mini_program/);
  await page.screenshot({ path: join(ARTIFACTS, 'identity-candidates.png'), fullPage: true });
  await (await row.$('button.merge')).click();
  const merged = await page.waitForSelector('#merges tr[data-merge] button.undo');
  assert.ok(merged);
  assert.equal(await page.$('#candidates tr[data-survivor="e2e-S"]'), null, 'the pair is one person now');

  await page.goto(`${base}/members/e2e-S`);
  await page.waitForSelector('body[data-hydrated="true"] #member-identities');
  const timeline = await page.textContent('table.timeline');
  assert.match(timeline, /e2e-o1/);
  assert.match(timeline, /e2e-o2/);
  const kinds = await page.$$eval('#member-identities tbody tr', (trs) => trs.map((tr) => tr.dataset.kind));
  assert.ok(kinds.includes('mini_program_openid') && kinds.includes('pos_card'), kinds.join(','));
  await page.screenshot({ path: join(ARTIFACTS, 'identity-member-360.png'), fullPage: true });
  const s = await getJson(`${base}/api/v1/members/e2e-S`);
  assert.deepEqual(s.orders.map((o) => o.channel).sort(), ['mini_program', 'store']);
  const r = await apiFetch(`${base}/api/v1/members/e2e-T`);
  assert.equal(r.status, 404);

  // Undone from the page: two members again.
  await page.goto(`${base}/identity`);
  await (await page.waitForSelector('body[data-hydrated="true"] #merges button.undo')).click();
  await page.waitForSelector('#candidates tr[data-survivor="e2e-S"][data-merged="e2e-T"]');
  assert.equal((await getJson(`${base}/api/v1/members/e2e-T`)).orders.length, 1);
  await page.close();
});
