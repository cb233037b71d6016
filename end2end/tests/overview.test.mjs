// The Overview in a real browser: each KPI on screen equals what the API returns for the
// same window, and changing the window (which needs a hydrated page) changes the numbers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, getJson, launchBrowser, startServer } from './support.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

// The text on a card, read back as a number: ¥1,234.56 → 1234.56; 23.4% → 0.234; 1,234 → 1234.
function parseShown(text) {
  const t = text.trim();
  if (t === '—') return null;
  if (t.endsWith('%')) return Number(t.slice(0, -1)) / 100;
  return Number(t.replace(/[¥,]/g, ''));
}

async function shownKpis(page) {
  return page.$$eval('[data-kpi]', (cards) =>
    cards.map((c) => ({
      key: c.dataset.kpi,
      value: c.querySelector('.kpi-value').textContent,
      previous: c.querySelector('.kpi-previous').textContent,
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
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${server.base}/?window=30d`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  const api30 = await getJson(`${server.base}/api/v1/overview?window=30d`);
  const shown30 = await shownKpis(page);
  assertMatches(shown30, api30);
  assert.equal(await page.inputValue('#as-of'), api30.as_of);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-30d.png'), fullPage: true });

  // Changing the window works only in a hydrated page: the URL and the numbers follow.
  await page.selectOption('#window', '365d');
  await page.waitForURL(/window=365d/);
  const api365 = await getJson(`${server.base}/api/v1/overview?window=365d&as_of=${api30.as_of}`);
  await page.waitForFunction(
    (expected) => document.querySelector('.window-caption')?.dataset.windowStart === expected,
    api365.window.start,
  );
  const shown365 = await shownKpis(page);
  assertMatches(shown365, api365);
  assert.notDeepEqual(shown365.map((k) => k.value), shown30.map((k) => k.value));
  await page.screenshot({ path: join(ARTIFACTS, 'overview-365d.png'), fullPage: true });

  // The URL reproduces the view; the back button returns to the 30-day one.
  await page.goBack();
  await page.waitForFunction(
    (expected) => document.querySelector('.window-caption')?.dataset.windowStart === expected,
    api30.window.start,
  );
  assertMatches(await shownKpis(page), api30);
  assert.deepEqual(errors, []);
});

test('a bad parameter shows what is wrong instead of numbers', async () => {
  const page = await browser.newPage();
  await page.goto(`${server.base}/?window=forever`);
  const text = await page.textContent('.error');
  assert.match(text, /invalid window/);
});
