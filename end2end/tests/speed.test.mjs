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

// MEMBERPULSE_E2E_SITE_ROOT serves another build of the site (e.g. the wasm of the
// `wasm-release` profile); MEMBERPULSE_E2E_SETTLE_MS waits after start (a big store's
// default overview is computed ahead then).
async function measure(options) {
  const site = process.env.MEMBERPULSE_E2E_SITE_ROOT;
  const server = await startServer({ ...options, args: site ? ['--site-root', site] : [] });
  const browser = await launchBrowser(server);
  try {
    await new Promise((ok) => setTimeout(ok, Number(process.env.MEMBERPULSE_E2E_SETTLE_MS ?? 0)));
    await timeOverview(browser, server.base, 1); // warm-up: the wasm and the queries' caches
    const first = await timeOverview(browser, server.base, 7);
    const returning = await timeOverview(browser, server.base, 7, { returning: true });
    return { ...first, returning };
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
    const r = f.returning;
    console.log(`# returning visit (${name}): hydrated ${r.median} ms, every panel filled ${r.filled_median} ms of ${JSON.stringify(r.filled)}`);
    assert.ok(f.median > 0 && f.filled_median >= f.median);
  }
  writeFileSync(join(ARTIFACTS, 'speed.json'), JSON.stringify(figures, null, 2));
});
