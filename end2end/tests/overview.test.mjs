// The Overview in a real browser: each KPI on screen equals what the API returns for the
// same window, and changing the window (which needs a hydrated page) changes the numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, eventually, getJson, parseShown, serverAndBrowser } from './support.mjs';

const env = serverAndBrowser();

async function shownKpis(page) {
  return page.$$eval('[data-kpi]', (cards) =>
    cards.map((c) => ({
      key: c.dataset.kpi,
      value: c.querySelector('.kpi-value').dataset.exact,
      previous: c.querySelector('.kpi-previous').dataset.exact,
      shown: c.querySelector('.kpi-value').textContent,
      zh: document.documentElement.lang === 'zh-CN',
    })),
  );
}

function assertMatches(shown, api) {
  assert.equal(shown.length, api.kpis.length);
  for (const kpi of api.kpis) {
    const card = shown.find((s) => s.key === kpi.key);
    assert.ok(card, `card for ${kpi.key}`);
    // Shown to the cent for money, to 0.1 percentage point for shares, whole for counts.
    const tolerance = { money: 0.005, amount: 0.005, ratio: 0.0005, count: 0, number: 0.005 }[kpi.unit];
    // In Chinese, large money is shown in 万/亿 (to the hundredth of that unit), the exact
    // amount beside it.
    if (card.zh && kpi.current.value !== null && ['money', 'amount'].includes(kpi.unit)) {
      const scale = Math.abs(kpi.current.value) >= 1e8 ? 1e8 : Math.abs(kpi.current.value) >= 1e4 ? 1e4 : 0;
      assert.equal(card.shown.endsWith('亿'), scale === 1e8, `${kpi.key}: ${card.shown}`);
      assert.equal(card.shown.endsWith('万'), scale === 1e4, `${kpi.key}: ${card.shown}`);
      assert.ok(Math.abs(parseShown(card.shown) - kpi.current.value) <= (scale ? scale / 200 : 0.005) + 1e-9, `${kpi.key}: ${card.shown}`);
    }
    for (const [text, measure] of [[card.value, kpi.current], [card.previous, kpi.comparison]]) {
      const n = parseShown(text);
      if (measure.value === null) {
        assert.equal(n, null, `${kpi.key}: ${text}`);
      } else {
        assert.ok(Math.abs(n - measure.value) <= tolerance + 1e-12, `${kpi.key}: shown ${text}, API ${measure.value}`);
      }
    }
  }
}

test('overview shows the API numbers and follows the window control', async () => {
  const page = await env.browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${env.server.base}/?window=30d`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  const api30 = await getJson(`${env.server.base}/api/v1/overview?window=30d`);
  // The headline comes with the page; the rest of the catalogue follows in the browser.
  await eventually(async () => assertMatches(await shownKpis(page), api30));
  assert.equal(await page.inputValue('#as-of'), api30.as_of);
  // Every chart drew: sparklines, trend, lifecycle, tiers, channels, cohorts.
  for (const id of ['trend-chart', 'lifecycle_stage-chart', 'tier-chart', 'channel-chart', 'cohort-chart']) {
    await page.waitForSelector(`#${id} canvas`);
  }
  await page.waitForSelector('.sparkline canvas');
  // The points panel: earned and redeemed are the usage rate's denominator and numerator.
  const usage = api30.kpis.find((k) => k.key === 'points_usage_rate');
  assert.equal(parseShown(await page.textContent('[data-points="earned"]')), usage.current.denominator);
  assert.equal(parseShown(await page.textContent('[data-points="redeemed"]')), usage.current.numerator);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-30d.png'), fullPage: true });

  // Changing the window works only in a hydrated page: the URL and the numbers follow.
  await page.selectOption('#window', '365d');
  await page.waitForURL(/window=365d/);
  const api365 = await getJson(`${env.server.base}/api/v1/overview?window=365d&as_of=${api30.as_of}`);
  await page.waitForFunction(
    (expected) => document.querySelector('.window-caption')?.dataset.windowStart === expected,
    api365.window.start,
  );
  await eventually(async () => assertMatches(await shownKpis(page), api365));
  await page.screenshot({ path: join(ARTIFACTS, 'overview-365d.png'), fullPage: true });

  // The URL reproduces the view; the back button returns to the 30-day one.
  await page.goBack();
  await page.waitForFunction(
    (expected) => document.querySelector('.window-caption')?.dataset.windowStart === expected,
    api30.window.start,
  );
  await eventually(async () => assertMatches(await shownKpis(page), api30));
  assert.deepEqual(errors, []);
});

test('a bad parameter shows what is wrong instead of numbers', async () => {
  const page = await env.browser.newPage();
  await page.goto(`${env.server.base}/?window=forever`);
  const text = await page.textContent('.error');
  assert.match(text, /invalid window/);
});

test('the language switch changes every label and is remembered', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.server.base}/`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await page.textContent('[data-kpi="repurchase_rate"] .kpi-label'), '复购率');
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.textContent('[data-kpi="repurchase_rate"] .kpi-label'), 'Repurchase rate');
  assert.equal(await page.textContent('nav.nav a[href^="/segments"]'), 'Segments');
  // Remembered: the server renders the next page in English.
  const html = await (await page.request.get(`${env.server.base}/members`)).text();
  assert.match(html, /Member list/);
  await page.reload();
  await page.waitForSelector('body[data-hydrated="true"]');
  assert.equal(await page.textContent('[data-kpi="churn_rate"] .kpi-label'), 'Churn rate');
  await page.screenshot({ path: join(ARTIFACTS, 'overview-en.png'), fullPage: true });
  await page.click('#lang-switch');
  await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
  assert.equal(await page.textContent('[data-kpi="churn_rate"] .kpi-label'), '流失率');
  await context.close();
});
