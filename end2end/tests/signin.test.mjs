// Sign-in in Chromium: the form, a refusal, each role's pages (operators see masked
// names and no admin page; executives no member rows), sign-out, and the admin page
// (users, a new password, a token shown once, the audit log), and the privacy page (an
// access document, an erasure, a retention preview). Every page hydrates under the
// Content-Security-Policy, with no violation reported.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ARTIFACTS, USERS, apiFetch, getJson, launchBrowser, startServer } from './support.mjs';

const env = {};
before(async () => {
  env.server = await startServer({ demoMembers: 1500 });
  env.browser = await launchBrowser();
});
after(async () => {
  await env.browser?.close();
  await env.server?.stop();
});

// A fresh, signed-out page that records CSP violations.
async function freshPage() {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.violations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) page.violations.push(m.text());
  });
  return page;
}

async function signIn(page, user) {
  await page.fill('input[name="name"]', user.name);
  await page.fill('input[name="password"]', user.password);
  await Promise.all([page.waitForNavigation(), page.click('#signin-form button[type="submit"]')]);
}

test('an operator signs in, sees masked members and no admin page, and signs out', async () => {
  const base = env.server.base;
  const page = await freshPage();
  await page.goto(`${base}/members?sort=member_id`);
  assert.match(page.url(), /\/signin\?next=\/members/);
  await signIn(page, { ...USERS.operator, password: 'not-the-password' });
  assert.equal(await page.textContent('#signin-error').then((t) => t.length > 0), true);
  await signIn(page, USERS.operator);
  assert.equal(new URL(page.url()).pathname, '/members');
  await page.waitForSelector('body[data-hydrated="true"] table.member-list tbody tr');
  assert.equal(await page.getAttribute('#who', 'data-role'), 'operator');
  const names = await page.$$eval('table.member-list tbody tr td.name', (tds) => tds.map((td) => td.textContent.trim()).filter((t) => t));
  assert.ok(names.length > 0, 'names listed');
  for (const n of names) assert.match(n, /^.\*+$/u, n);
  assert.equal(await page.$('nav a[href^="/admin"]'), null, 'no admin link');
  await page.screenshot({ path: join(ARTIFACTS, 'signed-in-operator.png'), fullPage: true });

  await Promise.all([page.waitForNavigation(), page.click('#sign-out')]);
  assert.equal(new URL(page.url()).pathname, '/signin');
  await page.goto(`${base}/`);
  assert.equal(new URL(page.url()).pathname, '/signin');
  assert.deepEqual(page.violations, []);
  await page.context().close();
});

test('an executive sees the dashboard but no member rows', async () => {
  const base = env.server.base;
  const page = await freshPage();
  await page.goto(`${base}/`);
  await signIn(page, USERS.executive);
  await page.waitForSelector('body[data-hydrated="true"] .kpi-grid.headline [data-kpi]', { timeout: 60_000 });
  assert.equal(await page.$('nav a[href^="/members"]'), null, 'no members link');
  await page.goto(`${base}/members`);
  // A page saying so in the reader's language, with a way back; never the server's error text.
  await page.waitForSelector('.error[role="alert"][data-failure="not_for_role"]');
  const notice = await page.textContent('.error[role="alert"]');
  const zh = (await page.getAttribute('html', 'lang')).startsWith('zh');
  assert.match(notice, zh ? /此页面不对您的角色开放/ : /not available for your role/);
  assert.doesNotMatch(notice, /ServerError|\|/);
  assert.equal(await page.$('table.member-list tbody tr'), null);
  await page.click('.error[role="alert"] a[href="/"]');
  await page.waitForSelector('body[data-hydrated="true"] .kpi-grid.headline [data-kpi]');
  assert.deepEqual(page.violations, []);
  await page.context().close();
});

test('an admin manages users and tokens and reads the audit log', async () => {
  const base = env.server.base;
  const page = await freshPage();
  await page.goto(`${base}/admin`);
  await signIn(page, USERS.admin);
  await page.waitForSelector('body[data-hydrated="true"] #users tr[data-user="otto"]');
  assert.equal(await page.getAttribute('#who', 'data-role'), 'admin');
  // The operator's list of members (first test) is in the audit log.
  await page.waitForSelector('#audit tr[data-action="member.list"]');
  assert.match(await page.textContent('#audit tr[data-action="member.list"]'), /otto/);

  await page.fill('#add-token input[name="name"]', 'pos-feed');
  await page.selectOption('#add-token select[name="scope"]', 'ingest');
  await page.click('#add-token button[type="submit"]');
  const secret = (await page.waitForSelector('#token-secret')).textContent();
  assert.match(await secret, /^mpt_[0-9a-f]{64}$/);
  await page.waitForSelector('#tokens tr:has-text("pos-feed")');
  const r = await fetch(`${base}/api/v1/ingest/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await secret}`, 'content-type': 'application/json' },
    body: '[]',
  });
  assert.equal(r.status, 200, 'the new token lands data');

  await page.fill('#add-user input[name="name"]', 'nina');
  await page.fill('#add-user input[name="password"]', 'nina-e2e-password');
  await page.selectOption('#add-user select[name="role"]', 'executive');
  await page.click('#add-user button[type="submit"]');
  await page.waitForSelector('#users tr[data-user="nina"]');
  // A new password for nina, set on her row: she signs in with it.
  await page.fill('#users tr[data-user="nina"] input[name="new_password"]', 'nina-new-password');
  await page.click('#users tr[data-user="nina"] .set-password button');
  await page.waitForSelector('#audit tr[data-action="user.update"]');
  await page.screenshot({ path: join(ARTIFACTS, 'admin.png'), fullPage: true });
  const nina = await freshPage();
  await nina.goto(`${base}/`);
  await signIn(nina, { name: 'nina', password: 'nina-new-password' });
  await nina.waitForSelector('body[data-hydrated="true"] #who');
  assert.equal(await nina.getAttribute('#who', 'data-role'), 'executive');
  await nina.context().close();

  // A file uploaded from the loads page's form (linked from the admin page): loaded,
  // listed with its counts.
  await Promise.all([page.waitForURL(/\/loads$/), page.click('#to-loads')]);
  await page.waitForSelector('body[data-hydrated="true"] #upload');
  await page.setInputFiles('#upload input[name="file"]', {
    name: 'new-members.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('member_id,joined_at,region\nup-1,2024-02-01,华东\nup-2,not a date,华南\n'),
  });
  await page.selectOption('#upload select[name="table"]', 'members');
  await Promise.all([page.waitForURL(/\/loads$/), page.click('#upload button[type="submit"]')]);
  const row = await page.waitForSelector('#load-history tbody tr:first-child');
  assert.deepEqual(
    (await row.$$eval('td', (tds) => tds.map((t) => t.textContent))).slice(1),
    ['new-members.csv', 'members', '2', '1', '0', '1'],
  );
  assert.deepEqual(page.violations, []);
  await page.context().close();
});

test('an admin answers an access request, erases the member and previews retention', async () => {
  const base = env.server.base;
  const first = await getJson(`${base}/api/v1/members?sort=member_id&page_size=1`);
  const id = first.rows[0].member_id;
  const page = await freshPage();
  await page.goto(`${base}/privacy`);
  await signIn(page, USERS.admin);
  await page.waitForSelector('body[data-hydrated="true"] #privacy-access');
  assert.ok(await page.$('nav a[href="/privacy"]'), 'admins have the privacy link');

  await page.fill('#privacy-access input[name="member"]', id);
  await page.click('#privacy-access button[type="submit"]');
  const document = JSON.parse(await (await page.waitForSelector('#access-document')).textContent());
  assert.equal(document.member_id, id);
  assert.equal(document.profile.member.name, first.rows[0].name, 'unmasked for the admin');

  await page.fill('#privacy-erase input[name="member"]', id);
  await page.fill('#privacy-erase input[name="reason"]', 'DSR-e2e-1');
  await page.check('#privacy-erase input[name="sure"]');
  await page.click('#privacy-erase button[type="submit"]');
  const pseudonym = (await (await page.waitForSelector('#pseudonym', { timeout: 60_000 })).textContent()).trim();
  assert.match(pseudonym, /^erased-[0-9a-f]{16}$/);
  const gone = await apiFetch(`${base}/api/v1/members/${encodeURIComponent(id)}`);
  assert.equal(gone.status, 404, 'the erased id is gone');

  await page.fill('#privacy-retention input[name="days"]', '30');
  await page.click('#privacy-retention button[type="submit"]');
  const preview = await page.waitForSelector('#retention-preview');
  assert.ok(Number(await preview.getAttribute('data-members')) > 0);
  await page.screenshot({ path: join(ARTIFACTS, 'privacy.png'), fullPage: true });
  assert.deepEqual(page.violations, []);
  await page.context().close();
});
