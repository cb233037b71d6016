// The model page in a real browser: the fitted parameters and the holdout check as the
// API gives them, the holdout drawn by ECharts (served from the site, not a CDN), and the
// held-out days following the URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, getJson, serverAndBrowser } from './support.mjs';

const env = serverAndBrowser();

async function shownHoldout(page) {
  return page.$$eval('table.holdout tbody tr', (rows) =>
    rows.map((r) => ({
      bucket: r.dataset.bucket,
      actual: Number(r.querySelector('.actual').textContent.replace(/,/g, '')),
      predicted: Number(r.querySelector('.predicted').textContent),
    })),
  );
}

function assertHoldout(shown, api) {
  const expected = [...api.buckets, api.total];
  assert.equal(shown.length, expected.length);
  for (const [s, b] of shown.map((s, i) => [s, expected[i]])) {
    assert.equal(s.bucket, b.frequency);
    assert.equal(s.actual, b.actual);
    assert.ok(Math.abs(s.predicted - b.predicted) <= 0.05 + 1e-9, `${b.frequency}: ${s.predicted} vs ${b.predicted}`);
  }
}

test('model page shows the fits and draws the holdout check', async () => {
  const page = await env.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  await page.goto(`${env.server.base}/model`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  const model = await getJson(`${env.server.base}/api/v1/model`);
  assert.equal(await page.getAttribute('.model-summary', 'data-scores-as-of'), model.scores_as_of);
  for (const fit of model.fits) {
    const cells = await page.$$eval(`table.fit[data-model="${fit.model}"] tbody tr td:first-of-type`, (tds) =>
      tds.map((td) => Number(td.textContent)),
    );
    assert.deepEqual(cells, fit.params.map((p) => Number(p.toFixed(4))));
  }

  await page.waitForSelector('table.holdout');
  assertHoldout(await shownHoldout(page), await getJson(`${env.server.base}/api/v1/model/holdout?days=90`));
  // ECharts drew the chart: a canvas inside the box, from the site's own copy.
  await page.waitForSelector('#holdout-chart canvas');
  assert.ok(requests.some((u) => u === `${env.server.base}/vendor/echarts.min.js`));
  assert.ok(requests.every((u) => u.startsWith(env.server.base) || u.startsWith('data:')), requests.join('\n'));
  await page.screenshot({ path: join(ARTIFACTS, 'model-90d.png'), fullPage: true });

  // Another holdout length through the control (hydrated), reflected in the URL.
  await page.selectOption('#holdout-days', '30');
  await page.waitForURL(/days=30/);
  const api30 = await getJson(`${env.server.base}/api/v1/model/holdout?days=30`);
  await page.waitForFunction(
    (expected) => document.querySelector('table.holdout tr[data-bucket="all"] .actual')?.textContent.replace(/,/g, '') === String(expected),
    api30.total.actual,
  );
  assertHoldout(await shownHoldout(page), api30);
  await page.waitForSelector('#holdout-chart canvas');
  await page.screenshot({ path: join(ARTIFACTS, 'model-30d.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
