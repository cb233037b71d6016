// How soon the overview is rendered and hydrated after navigation (ms from navigation
// start, headline KPI cards on screen), and how soon every panel is filled: on the test's demo retailer always, and on a big
// data directory when MEMBERPULSE_E2E_BIG_DATA names one (e.g. the 1,000,000-member demo
// from `memberpulse generate --members 1000000`). A figure, printed and saved to
// end2end/artifacts/speed.json — not a timed assertion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, launchBrowser, startServer, timeOverview } from './support.mjs';

async function measure(options) {
  const server = await startServer(options);
  const browser = await launchBrowser(server);
  try {
    await timeOverview(browser, server.base, 1); // warm-up: the wasm and the queries' caches
    return await timeOverview(browser, server.base, 5);
  } finally {
    await browser.close();
    await server.stop();
  }
}

test('overview: rendered and hydrated, ms after navigation', async () => {
  const figures = { demo_3000: await measure({}) };
  if (process.env.MEMBERPULSE_E2E_BIG_DATA) {
    figures.big = { data_dir: process.env.MEMBERPULSE_E2E_BIG_DATA, ...(await measure({ dataDir: process.env.MEMBERPULSE_E2E_BIG_DATA })) };
  }
  for (const [name, f] of Object.entries(figures)) {
    console.log(`# overview hydrated (${name}): median ${f.median} ms of ${JSON.stringify(f.times)}`);
    console.log(`# overview, every panel filled (${name}): median ${f.filled_median} ms of ${JSON.stringify(f.filled)}`);
    assert.ok(f.median > 0 && f.filled_median >= f.median);
  }
  writeFileSync(join(ARTIFACTS, 'speed.json'), JSON.stringify(figures, null, 2));
});
