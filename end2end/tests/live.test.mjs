// Live data in a real browser: orders sent to the ingest API while the overview is open
// change its headline KPI without a reload, within two seconds (pushed by the server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, getJson, parseShown, serverAndBrowser } from './support.mjs';

const TOKEN = 'e2e-ingest-token';
const env = serverAndBrowser({ args: ['--ingest-token', TOKEN] });

test('orders ingested through the API show on an open dashboard within 2 s', async () => {
  const { base } = env.server;
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-hydrated="true"] [data-kpi="historical_ltv"]', { timeout: 60_000 });
  // Let the stream connect and the panels settle.
  await page.waitForSelector('article.firing ul.firing-list, article.firing p.empty');
  await page.waitForLoadState('networkidle');
  const shown = async () => parseShown(await page.getAttribute('[data-kpi="historical_ltv"] .kpi-value', 'data-exact'));
  const before = await shown();
  const end = await page.getAttribute('.window-caption', 'data-window-end');

  // Big orders on the last day of the window for ten members.
  const members = (await getJson(`${base}/api/v1/members?sort=member_id&page_size=10`)).rows;
  const body = members
    .map((m, i) => JSON.stringify({
      order_id: `e2e-live-${i}`, ordered_at: `${end}T12:00:00`, net_amount: '5000.00', member_id: m.member_id, channel: 'app',
    }))
    .join('\n');
  const started = Date.now();
  const r = await fetch(`${base}/api/v1/ingest/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
    body,
  });
  const report = await r.json();
  assert.equal(r.status, 200, JSON.stringify(report));
  assert.equal(report.inserted, 10);

  await page.waitForFunction(
    (old) => {
      const el = document.querySelector('[data-kpi="historical_ltv"] .kpi-value');
      return el && el.textContent.trim() !== old;
    },
    await page.textContent('[data-kpi="historical_ltv"] .kpi-value'),
    { timeout: 2_000 },
  );
  const ms = Date.now() - started;
  console.log(`# ingested orders on screen ${ms} ms after they were sent`);
  writeFileSync(join(ARTIFACTS, 'live-latency.json'), JSON.stringify({ ms }));
  const after = await shown();
  assert.ok(after > before, `${before} → ${after}`);
  // What the page shows is what the API says now.
  const api = await getJson(`${base}/api/v1/overview?metrics=historical_ltv`);
  const kpi = api.kpis.find((k) => k.key === 'historical_ltv');
  assert.ok(Math.abs(after - kpi.current.value) <= 0.005, `shown ${after}, API ${kpi.current.value}`);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-live.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
