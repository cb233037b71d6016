// The live alert centre in a real browser: a rule that starts firing shows on an open
// dashboard without a reload (server-sent events); the alert centre acknowledges it and
// opens its drill-down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, apiFetch, getJson, serverAndBrowser } from './support.mjs';

const env = serverAndBrowser();

async function post(path, body) {
  const r = await apiFetch(`${env.server.base}/api/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

test('a new firing reaches an open dashboard live, and the alert centre acts on it', async () => {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${env.server.base}/`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  // The stream's first message: the open alerts now.
  await page.waitForSelector('article.firing ul.firing-list, article.firing p.empty');
  const before = Number(await page.getAttribute('#alert-badge', 'data-count'));

  const created = await post('alerts/rules', {
    name: 'e2e 会员数过多 live', metric: 'members', comparison: 'above', threshold: 1, window_days: 30,
    schedule_minutes: 60, severity: 'critical', renotify_minutes: 0,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const started = Date.now();
  const evaluated = await post('alerts/evaluate');
  assert.equal(evaluated.status, 200);
  const [alert] = await getJson(`${env.server.base}/api/v1/alerts?rule_id=${created.body.id}`);
  assert.equal(alert.state, 'firing');
  await page.waitForSelector(`article.firing li[data-alert="${alert.id}"]`, { timeout: 10_000 });
  const seenAfter = Date.now() - started;
  console.log(`# live alert on screen ${seenAfter} ms after the evaluation was asked for`);
  writeFileSync(join(ARTIFACTS, 'alert-latency.json'), JSON.stringify({ ms: seenAfter }));
  assert.equal(Number(await page.getAttribute('#alert-badge', 'data-count')), before + 1);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-alert.png'), fullPage: true });

  // The alert centre: acknowledge it, then open its drill-down.
  await page.click('#alert-badge');
  await page.waitForURL(/\/alerts$/);
  const row = `tr[data-alert="${alert.id}"]`;
  await page.waitForSelector(`${row}[data-state="firing"]`);
  await page.screenshot({ path: join(ARTIFACTS, 'alerts.png'), fullPage: true });
  await page.click(`${row} button.ack`);
  await page.waitForSelector(`${row}[data-state="acknowledged"]`);
  assert.equal((await getJson(`${env.server.base}/api/v1/alerts/${alert.id}`)).state, 'acknowledged');
  await page.click(`${row} a.drill`);
  await page.waitForURL(/\/breakdown\?metric=members/);
  await page.waitForSelector('table.breakdown');
  assert.deepEqual(errors, []);
});

test('rules are created and edited in the alert centre, with the server errors shown', async () => {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${env.server.base}/alerts`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  const form = 'form.rule.new';
  await page.fill(`${form} input[name="name"]`, 'e2e 流失率过高');
  await page.selectOption(`${form} select[name="metric"]`, 'churn_rate');
  await page.fill(`${form} input[name="threshold"]`, '20');
  await page.click(`${form} button[type="submit"]`);
  // A share of 2,000% is refused, and the message names the field.
  await page.waitForSelector(`${form} p.error`);
  assert.match(await page.textContent(`${form} p.error`), /threshold/);
  await page.fill(`${form} input[name="threshold"]`, '0.25');
  await page.click(`${form} button[type="submit"]`);
  let rule;
  for (let i = 0; i < 50 && !rule; i++) {
    const rules = await getJson(`${env.server.base}/api/v1/alerts/rules`);
    rule = rules.find((r) => r.name === 'e2e 流失率过高');
    if (!rule) await new Promise((ok) => setTimeout(ok, 100));
  }
  assert.ok(rule, 'the rule was created');
  assert.equal(rule.threshold, 0.25);
  // Edit it in place: switch it off.
  const edit = `form.rule[data-rule="${rule.id}"]`;
  await page.waitForSelector(edit);
  await page.uncheck(`${edit} input[name="enabled"]`);
  await page.click(`${edit} button[type="submit"]`);
  await page.waitForSelector(`${edit} p.saved`);
  assert.equal((await getJson(`${env.server.base}/api/v1/alerts/rules/${rule.id}`)).enabled, false);
  await page.screenshot({ path: join(ARTIFACTS, 'alert-rules.png'), fullPage: true });
});
