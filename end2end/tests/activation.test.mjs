// Activation (issue 24) in Chromium, as an operator: a trigger made on the triggers page
// (kind, its parameter, a channel an admin set up), then a campaign made on the campaigns
// page on a saved segment, whose readout opens with the arms the server drew; every figure
// on it is the API's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { ARTIFACTS, USERS, apiFetch, getJson, launchBrowser, startServer } from './support.mjs';

const env = {};
before(async () => {
  // A real receiver for the channel (the trigger's batches may reach it).
  env.hooks = [];
  env.receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      env.hooks.push(body);
      res.end('ok');
    });
  });
  await new Promise((ok) => env.receiver.listen(0, '127.0.0.1', ok));
  env.server = await startServer({ demoMembers: 300, args: ['--allow-private-webhooks'] });
  env.browser = await launchBrowser(env.server, USERS.operator);
});
after(async () => {
  await env.browser?.close();
  await env.server?.stop();
  env.receiver?.close();
});

async function post(path, body) {
  const r = await apiFetch(`${env.server.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await r.json();
  assert.ok(r.status < 300, `${path}: ${r.status} ${JSON.stringify(answer)}`);
  return answer;
}

test('an operator creates a trigger and a campaign and reads the readout', async () => {
  const base = env.server.base;
  // What an admin set up before: a messaging channel and a saved segment.
  const channel = await post('/api/v1/messaging-channels', {
    name: 'CRM 推送',
    channel: { kind: 'webhook', url: `http://127.0.0.1:${env.receiver.address().port}/hook` },
  });
  await post('/api/v1/segments', {
    key: 'e2e-lapsed',
    name_zh: '沉睡与流失',
    name_en: 'Dormant and churned',
    filters: 'lifecycle_stage:dormant|churned',
  });

  // The trigger, on the triggers page.
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 1400 } });
  await page.goto(`${base}/triggers`);
  await page.waitForSelector(`body[data-hydrated="true"] #new-trigger input[name="channel"][value="${channel.id}"]`);
  await page.fill('#new-trigger input[name="name"]', '60 天未购 e2e');
  await page.selectOption('#new-trigger select[name="kind"]', 'no_purchase');
  await page.fill('#new-trigger input[name="days"]', '45');
  await page.check(`#new-trigger input[name="channel"][value="${channel.id}"]`);
  await page.click('#save-trigger');
  const row = await page.waitForSelector('#triggers tr[data-trigger]:has-text("60 天未购 e2e")');
  assert.match(await row.textContent(), /连续未购买.*天数 45/);
  const triggers = await getJson(`${base}/api/v1/triggers`);
  const made = triggers.find((t) => t.name === '60 天未购 e2e');
  assert.deepEqual(made.when, { kind: 'no_purchase', days: 45 });
  assert.deepEqual(made.channels, [channel.id]);
  await page.screenshot({ path: join(ARTIFACTS, 'triggers.png'), fullPage: true });

  // The campaign, on the campaigns page: 45 days before the latest data day, for 30 days.
  const t = (await getJson(`${base}/api/v1/overview`)).as_of;
  const start = new Date(Date.parse(`${t}T00:00:00Z`) - 45 * 86400_000).toISOString().slice(0, 10);
  await page.goto(`${base}/campaigns`);
  await page.waitForSelector('body[data-hydrated="true"] #new-campaign select[name="segment"] option[value="e2e-lapsed"]', { state: 'attached' });
  await page.fill('#new-campaign input[name="name"]', '沉睡唤醒 e2e');
  await page.selectOption('#new-campaign select[name="segment"]', 'e2e-lapsed');
  await page.fill('#new-campaign input[name="start"]', start);
  await page.fill('#new-campaign input[name="window_days"]', '30');
  await page.selectOption('#new-campaign select[name="goal"]', 'reactivation');
  await page.fill('#new-campaign input[name="control_share"]', '0.3');
  await page.fill('#new-campaign input[name="seed"]', '7');
  await page.click('#create-campaign');
  await page.waitForURL(/\/campaigns\/\d+$/);
  const id = page.url().split('/').pop();
  await page.waitForSelector('#arms tr[data-arm="control"]');

  // Every figure is the API's readout.
  const readout = await getJson(`${base}/api/v1/campaigns/${id}/readout`);
  assert.equal(readout.campaign.name, '沉睡唤醒 e2e');
  assert.equal(readout.campaign.seed, 7);
  assert.equal(readout.arms.length, 2);
  for (const arm of readout.arms) {
    const cells = await page.$$eval(`#arms tr[data-arm="${arm.arm}"] td`, (tds) => tds.map((td) => td.textContent));
    assert.equal(cells[0].replace(/,/g, ''), String(arm.members), `${arm.arm} members`);
    assert.equal(cells[1].replace(/,/g, ''), String(arm.conversions), `${arm.arm} conversions`);
    assert.equal(cells[2], `${(arm.rate * 100).toFixed(1)}%`, `${arm.arm} rate`);
  }
  const control = readout.arms.find((a) => a.arm === 'control').members;
  const all = readout.arms.reduce((n, a) => n + a.members, 0);
  assert.ok(Math.abs(control / all - 0.3) < 0.1, `control ${control} of ${all}`);
  assert.equal(await page.textContent('#verdict'), readout.verdict_zh);
  assert.match(readout.verdict_zh, /唤醒率/);
  assert.ok(await page.$('#comparisons tr[data-test="two_proportion_z"]'));
  assert.ok(await page.$('#comparisons tr[data-test="welch_t"]'));
  assert.match(await page.textContent('#sample-ratio'), /分组比例/);
  await page.screenshot({ path: join(ARTIFACTS, 'campaign-readout.png'), fullPage: true });

  // Listed, with its arms, and the verdict follows the language.
  await page.goto(`${base}/campaigns`);
  const listed = await page.waitForSelector(`body[data-hydrated="true"] #campaigns tr[data-campaign="${id}"]`);
  assert.match(await listed.textContent(), new RegExp(`${all - control} / ${control}`));
  await page.click(`#campaigns tr[data-campaign="${id}"] a.readout-link`);
  await page.waitForSelector('#verdict');
  await page.click('#lang-switch');
  await page.waitForFunction((en) => document.querySelector('#verdict')?.textContent === en, readout.verdict_en);
  await page.close();
});
