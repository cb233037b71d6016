// Starts a real MemberPulse server (target/debug/memberpulse, as scripts/build.sh built it) on a free port with a
// fresh data directory, and a real Chromium (Debian's) driven by playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const ARTIFACTS = join(ROOT, 'end2end', 'artifacts');

// The people the tests sign in as: one per role (made with `memberpulse user add`).
export const USERS = {
  admin: { name: 'ada', role: 'admin', password: 'ada-e2e-password' },
  operator: { name: 'otto', role: 'operator', password: 'otto-e2e-password' },
  executive: { name: 'eve', role: 'executive', password: 'eve-e2e-password' },
};

// The local (admin) token of each server started here, by base URL: what `getJson` and
// `apiFetch` present, as the CLI would.
const tokens = new Map();

export async function startServer({ demoMembers = 3000, dataDir: given, args: extra = [] } = {}) {
  const dataDir = given ?? mkdtempSync(join(tmpdir(), 'memberpulse-e2e-'));
  const bin = process.env.MEMBERPULSE_BIN ?? join(ROOT, 'target', 'debug', 'memberpulse');
  for (const u of Object.values(USERS)) {
    const made = spawnSync(bin, ['user', 'add', '--name', u.name, '--role', u.role, '--password-stdin', '--if-missing', '--data-dir', dataDir], {
      input: `${u.password}\n`,
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`user add ${u.name}: ${made.stderr}`);
  }
  const args = ['serve', '--addr', '127.0.0.1:0', '--data-dir', dataDir, '--demo-members', String(given ? 0 : demoMembers), ...extra];
  const child = spawn(bin, args, {
    cwd: ROOT,
    env: { ...process.env, LEPTOS_SITE_ROOT: join(ROOT, 'target', 'site'), RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((ok, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`server did not start: ${seen}`)), 180_000);
    child.stdout.on('data', (chunk) => {
      seen += chunk.toString();
      const m = seen.match(/serving (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`server exited with ${code}: ${seen}`)));
  });
  tokens.set(base, JSON.parse(readFileSync(join(dataDir, 'server.json'), 'utf8')).token);
  // The model is fitted in the background after start; wait for it so that the predicted
  // metrics do not change between what a page shows and what a test asks the API.
  for (let i = 0; ; i++) {
    const model = await getJson(`${base}/api/v1/model`);
    if ((model.scores_as_of || model.last_error) && !model.fitting) break;
    if (i > 600) throw new Error(`the model was not fitted: ${JSON.stringify(model)}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return {
    base,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((ok) => (child.exitCode !== null ? ok() : child.on('exit', ok)));
      if (!given) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// Signs in through the sign-in form's endpoint (as a browser would post it) and answers
// the session cookie's value, or null when refused.
export async function sessionCookie(base, user = USERS.admin) {
  const r = await fetch(`${base}/auth/signin`, {
    method: 'POST',
    redirect: 'manual',
    headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name: user.name, password: user.password, next: '/' }),
  });
  const cookie = (r.headers.getSetCookie?.() ?? []).find((c) => c.startsWith('mp_session=') && !c.startsWith('mp_session=;'));
  return cookie ? cookie.split(';')[0].slice('mp_session='.length) : null;
}

// Chromium, and — given a server — every page and context it opens signed in as `user`
// (an admin unless told), so that a test opens pages as a signed-in person does.
export async function launchBrowser(server, user = USERS.admin) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launchChromium();
  if (!server) return browser;
  const value = await sessionCookie(server.base, user);
  if (!value) throw new Error(`sign-in as ${user.name} refused`);
  const newContext = async (options = {}) => {
    const context = await browser.newContext(options);
    await context.addCookies([{ name: 'mp_session', value, url: server.base, httpOnly: true, sameSite: 'Lax' }]);
    return context;
  };
  return {
    newContext,
    async newPage(options = {}) {
      const context = await newContext(options);
      const page = await context.newPage();
      page.on('close', () => context.close().catch(() => {}));
      return page;
    },
    close: () => browser.close(),
    unsigned: browser,
  };
}

function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// `fetch` as the server's local admin (the bearer token in its server.json).
export function apiFetch(url, init = {}) {
  const base = [...tokens.keys()].find((b) => url.startsWith(b));
  const headers = { ...(init.headers ?? {}) };
  if (base && !Object.keys(headers).some((k) => k.toLowerCase() === 'authorization')) {
    headers.authorization = `Bearer ${tokens.get(base)}`;
  }
  return fetch(url, { ...init, headers });
}

export async function getJson(url) {
  const r = await apiFetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

// The text of a number on screen, read back: ¥1,234.56 → 1234.56; 23.4% → 0.234; 1,234 → 1234;
// ¥1,234.57万 → 12345700 and ¥3.20亿 → 320000000 (to the unit's hundredth only).
export function parseShown(text) {
  const t = text.trim();
  if (t === '—' || t === '') return null;
  if (t.endsWith('%')) return Number(t.slice(0, -1)) / 100;
  const scale = { 万: 1e4, 亿: 1e8 }[t.slice(-1)];
  if (scale) return Math.round(Number(t.slice(0, -1).replace(/[¥,]/g, '')) * 100) * scale / 100;
  return Number(t.replace(/[¥,]/g, ''));
}

// Retries an assertion until it holds (the browser fetches some panels after hydrating).
export async function eventually(check, timeout = 20_000) {
  const until = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((ok) => setTimeout(ok, 200));
    }
  }
}

// Opens `path` `rounds` times and returns the times (ms from navigation start) at which
// the page was hydrated with the headline KPI cards rendered; the median first.
// What is on screen when every panel of the overview is filled: each chart drawn (ECharts
// draws its canvas only once the panel's data came), the points table and the rest of the
// catalogue.
const FILLED = [
  '#trend-chart canvas', '#lifecycle_stage-chart canvas', '#tier-chart canvas', '#channel-chart canvas',
  '[data-points="earned"]', '#cohort-chart canvas', '.kpi-grid.more [data-kpi]',
];

// `returning`: every round in one browser context, so the site's files come from its cache
// as for a returning visitor; otherwise each round is a first visit (a fresh context).
export async function timeOverview(browser, base, rounds = 5, { returning = false } = {}) {
  const times = [];
  const filled = [];
  const context = returning ? await browser.newContext() : null;
  for (let i = 0; i < rounds; i++) {
    const page = context ? await context.newPage() : await browser.newPage();
    // The page notes when the last panel came (ms after navigation start), itself: the
    // figure does not wait on this script's polling.
    await page.addInitScript((selectors) => {
      const seen = new Set();
      new MutationObserver((_, observer) => {
        for (const s of selectors) if (!seen.has(s) && document.querySelector(s)) seen.add(s);
        if (seen.size === selectors.length) {
          window.__filledAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    }, FILLED);
    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-hydrated="true"] .kpi-grid.headline [data-kpi]', { timeout: 60_000 });
    times.push(Number(await page.getAttribute('body', 'data-hydrated-at')));
    await page.waitForFunction(() => window.__filledAt !== undefined, null, { timeout: 60_000 });
    filled.push(Math.round(await page.evaluate(() => window.__filledAt)));
    // Let the panels the browser fetches after hydrating finish, so that the next round
    // does not wait behind them on the server.
    await page.waitForLoadState('networkidle');
    await page.close();
  }
  await context?.close();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { median: median(times), times, filled_median: median(filled), filled };
}

// Starts a server and a browser before the file's tests and stops them after; the
// returned object holds them once started.
export function serverAndBrowser(options = {}) {
  const env = {};
  before(async () => {
    env.server = await startServer(options);
    env.browser = await launchBrowser(env.server);
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}
