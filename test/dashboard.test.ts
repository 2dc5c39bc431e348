// The console end to end in a real browser (Debian's chromium through playwright-core) against a
// real gateway and real upstreams: login, live numbers, explain, services, consumers, config, CSP.
// One browser for the file; the tests run in order and share the logged-in page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { browserMissing, launchBrowser, screenshot, type TestBrowser, type TestPage } from './helpers/browser.js';
import { copyDocsImage, loginAs, lowContrast, unexpectedProblems, sendTraffic, unlabelled, until } from './helpers/console-page.js';

const skip = browserMissing();
const TOKEN = 'console-admin-token-0123456789';
let users: Upstream;
let flaky: Upstream;
let gw: TestGateway;
let browser: TestBrowser;
let tab: TestPage;
/** The key the console made for consumer bob (the consumer tests run in order). */
let bobKey = '';
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-dashboard-'));

const routes = [
  { name: 'users', match: { paths: ['/users/*'] }, service: 'users', policies: [{ type: 'key-auth' }] },
  {
    name: 'users-by-id',
    match: { paths: ['/users/:id'], methods: ['GET'] },
    service: 'users',
    policies: [{ type: 'key-auth' }, { type: 'rate-limit', limits: 'plan', by: ['consumer'] }],
  },
  { name: 'public', match: { paths: ['/public/*'] }, service: 'users' },
  { name: 'flaky', match: { paths: ['/flaky/*'] }, service: 'flaky' },
];

const plans = { basic: { limits: [{ limit: 100000, window: '1m' }] }, gold: { limits: [{ limit: 500000, window: '1m' }] } };

before(async () => {
  if (skip) return;
  users = await startUpstream();
  flaky = await startUpstream();
  gw = await startTestGateway({
    admin: { token: TOKEN },
    analytics: { enabled: true },
    plans,
    services: {
      users: { targets: [{ url: users.url }] },
      flaky: {
        targets: [{ url: flaky.url }],
        healthCheck: { active: { path: '/', interval: '300ms', timeout: '200ms', unhealthyThreshold: 1, healthyThreshold: 1 } },
      },
    },
    routes,
    consumers: [{ id: 'alice', credentials: [{ type: 'api-key', key: 'alice-key-0123456789' }] }],
  });
  browser = await launchBrowser();
  tab = await browser.open({ width: 1280, height: 900 });
});

after(async () => {
  await maybeUnset(browser)?.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(users)?.close();
  await maybeUnset(flaky)?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the console is served with its CSP; a wrong token is refused, the right one signs in, and no token is stored', { skip }, async () => {
  const { page } = tab;
  const res = await page.goto(`${gw.adminUrl}/ui/`);
  assert.equal(res?.status(), 200);
  const csp = res.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  assert.equal(res.headers()['x-frame-options'], 'DENY');
  await page.locator('#token').waitFor();
  await screenshot(page, 'login');
  await page.fill('#token', 'not-the-token');
  await page.click('button[type=submit]');
  await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
  assert.equal(await page.locator('nav').count(), 0, 'still the login view');
  await loginAs(page, TOKEN);
  const stored = await page.evaluate<{ local: string; session: string; cookie: string }>(
    '({ local: JSON.stringify(Object.entries(localStorage)), session: JSON.stringify(Object.entries(sessionStorage)), cookie: document.cookie })',
  );
  assert.equal(stored.local, '[]', 'nothing in localStorage');
  assert.equal(stored.session, '[]', 'nothing in sessionStorage');
  assert.doesNotMatch(stored.cookie, /gatehouse_console/, 'the session cookie is HttpOnly');
  assert.ok(!JSON.stringify(stored).includes(TOKEN));
});

test('the overview shows live numbers that move while traffic flows', { skip }, async () => {
  const { page } = tab;
  await page.goto(`${gw.adminUrl}/ui/#/overview`);
  const total = page.getByTestId('requests-total');
  await total.waitFor();
  const before = Number((await total.textContent())!.replace(/\D/g, '') || '0');
  const stops = [
    sendTraffic(`${gw.url}/public/hello`, 20),
    sendTraffic(`${gw.url}/users/1`, 10, { 'x-api-key': 'alice-key-0123456789' }),
    sendTraffic(`${gw.url}/users/1`, 10, { 'x-api-key': 'not-a-key' }),
  ];
  try {
    // (Polled from here: waitForFunction evaluates a string in the page, which the console's CSP forbids.)
    await until(async () => Number(((await total.textContent()) ?? '').replace(/\D/g, '') || '0') >= before + 20, 15000);
    await until(async () => Number(await page.getByTestId('auth-failed').textContent()) > 0, 10000, 'auth failures counted');
    // The charts draw on canvases (uPlot).
    assert.equal(await page.locator('.chart canvas').count(), 3);
    const top = page.locator('.panel', { hasText: 'Top routes' });
    await until(async () => /public/.test((await top.textContent()) ?? ''), 10000, 'the public route among the top routes');
    await page.waitForTimeout(2200); // one more poll of the time series: the charts show the traffic
    await screenshot(page, 'overview');
  } finally {
    await Promise.all(stops.map((stop) => stop()));
  }
});

test('explain answers as `gatehouse explain` does', { skip }, async () => {
  const { page } = tab;
  await page.goto(`${gw.adminUrl}/ui/#/routes`);
  await page
    .getByTestId('route-count')
    .filter({ hasText: `${routes.length} of ${routes.length} routes` })
    .waitFor();
  await page.fill('#explain-url', 'http://api.example.com/users/42');
  await page.click('form.explain button[type=submit]');
  const shown = await page.getByTestId('explain-route').textContent();
  const file = join(dir, 'gatehouse.json');
  writeFileSync(
    file,
    JSON.stringify({ plans, services: { users: { targets: [{ url: users.url }] }, flaky: { targets: [{ url: flaky.url }] } }, routes }),
  );
  const cli = spawnSync(
    process.execPath,
    ['dist/src/cli/main.js', 'explain', '--config', file, '--json', 'GET', 'http://api.example.com/users/42'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(cli.status, 0, cli.stderr);
  const expected = JSON.parse(cli.stdout) as { route: { route: string }; reason: string };
  assert.equal(shown, expected.route.route);
  assert.equal(shown, 'users-by-id');
  assert.ok(((await page.getByTestId('explain-result').textContent()) ?? '').includes(expected.reason));
  await screenshot(page, 'routes');
});

test('the services page shows a target down once its upstream is gone', { skip }, async () => {
  const { page } = tab;
  await page.goto(`${gw.adminUrl}/ui/#/services`);
  const health = page.getByTestId('service').filter({ hasText: 'flaky' }).getByTestId('target-health');
  await health.filter({ hasText: /^up/ }).waitFor({ timeout: 10000 });
  await flaky.close();
  await health.filter({ hasText: /^down/ }).waitFor({ timeout: 10000 });
  await screenshot(page, 'services');
});

test('a consumer created in the console works at once; its key is shown once and gone after the dialog', { skip }, async () => {
  const { page } = tab;
  await page.goto(`${gw.adminUrl}/ui/#/consumers`);
  await page.getByRole('button', { name: 'New consumer' }).click();
  await page.fill('#cf-id', 'bob');
  await page.fill('#cf-groups', 'partners');
  await page.getByRole('button', { name: 'Create' }).click();
  const key = await page.locator('#new-secret').inputValue();
  assert.match(key, /^gh_[A-Za-z0-9_-]{40,}$/);
  bobKey = key;
  assert.equal((await fetch(`${gw.url}/users/7`, { headers: { 'x-api-key': key } })).status, 200);
  assert.equal((await fetch(`${gw.url}/users/7`, { headers: { 'x-api-key': 'wrong' } })).status, 401);
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('#new-secret').waitFor({ state: 'detached' });
  await page.getByTestId('consumer-detail').filter({ hasText: 'bob' }).waitFor();
  const html = await page.content();
  assert.ok(!html.includes(key), 'the key is nowhere in the page');
  const values = await page.evaluate<string>('[...document.querySelectorAll("input,textarea")].map((e) => e.value).join("\\n")');
  assert.ok(!values.includes(key), 'nor in any field');
  await screenshot(page, 'consumers');
});

test('dialogs work from the keyboard: Enter opens, focus moves in, Escape closes and gives focus back', { skip }, async () => {
  const { page } = tab;
  await page.goto(`${gw.adminUrl}/ui/#/consumers`);
  const opener = page.getByRole('button', { name: 'New consumer' });
  await opener.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog', { name: 'New consumer' }).waitFor();
  assert.equal(await page.evaluate<boolean>("!!document.activeElement.closest('dialog')"), true, 'focus is in the dialog');
  assert.deepEqual(await unlabelled(page), []);
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'New consumer', 'focus back on the opener');
});

test('a consumer gets a plan, its usage shows, a rotated key replaces the old one, a revoked one stops working', { skip }, async () => {
  const { page } = tab;
  const detail = page.getByTestId('consumer-detail');
  await page.goto(`${gw.adminUrl}/ui/#/consumers/bob`);
  await detail.getByRole('button', { name: 'Edit' }).click();
  await page.selectOption('#cf-plan', 'gold');
  await page.getByRole('button', { name: 'Save' }).click();
  await detail.getByTestId('consumer-plan').filter({ hasText: 'gold' }).waitFor();
  // The consumer kept its key through the edit (its secret sent back as "[redacted]").
  assert.equal((await fetch(`${gw.url}/users/7`, { headers: { 'x-api-key': bobKey } })).status, 200, 'the key survives the edit');
  await detail.getByRole('button', { name: 'Rotate bob:api-key:0' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
  const rotated = await page.locator('#new-secret').inputValue();
  await page.getByRole('button', { name: 'Done' }).click();
  assert.notEqual(rotated, bobKey);
  assert.equal((await fetch(`${gw.url}/users/7`, { headers: { 'x-api-key': bobKey } })).status, 401, 'the old key is refused');
  assert.equal((await fetch(`${gw.url}/users/7`, { headers: { 'x-api-key': rotated } })).status, 200, 'the new key works');
  assert.equal((await fetch(`${gw.url}/users/8`, { headers: { 'x-api-key': rotated } })).status, 200);
  await detail
    .getByTestId('usage')
    .filter({ hasText: /gold/ })
    .filter({ hasText: /500,000/ })
    .waitFor();
  const used = detail.getByTestId('usage').locator('td.num').first();
  await until(async () => Number(((await used.textContent()) ?? '').replace(/\D/g, '')) >= 2, 8000, 'the requests counted as used');
  await detail.getByRole('button', { name: 'Revoke bob:api-key:0' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await detail.getByText('No credentials').waitFor();
  assert.equal((await fetch(`${gw.url}/users/7`, { headers: { 'x-api-key': rotated } })).status, 401, 'revoked');
});

test('a config with an error is shown at its line and not applied; fixed, it is applied and served', { skip }, async () => {
  const { page } = tab;
  await page.goto(`${gw.adminUrl}/ui/#/config`);
  const editor = page.locator('#config-text');
  await editor.waitFor();
  const yaml = await editor.inputValue();
  assert.match(yaml, /^routes:$/m, 'YAML, not JSON');
  assert.doesNotMatch(yaml, /alice-key/, 'secrets redacted');
  const lines = yaml.split('\n');
  const at = lines.indexOf('routes:');
  const indent = /^(\s*)- /.exec(lines[at + 1] ?? '')?.[1] ?? '  ';
  const added = [`${indent}- name: added`, `${indent}  match:`, `${indent}    paths: ["/added/*"]`, `${indent}  service: nosuch`];
  const broken = [...lines.slice(0, at + 1), ...added, ...lines.slice(at + 1)].join('\n');
  await editor.fill(broken);
  await page.getByRole('button', { name: 'Apply' }).click();
  const error = page.getByTestId('config-error').first();
  await error.waitFor();
  const text = (await error.textContent()) ?? '';
  const line = Number(/line (\d+)/.exec(text)?.[1]);
  assert.ok(line >= at + 2 && line <= at + 1 + added.length, `the error is at the added route's lines (${text})`);
  assert.match(text, /nosuch/);
  assert.equal(await page.locator('.gutter-error').first().textContent(), String(line));
  // The mark sits beside its line of text (same line height, scrolled together).
  const offset = await page.evaluate<number>(
    `(() => { const t = document.getElementById('config-text'); const m = document.querySelector('.gutter-error');
      const lh = parseFloat(getComputedStyle(t).lineHeight); const pad = parseFloat(getComputedStyle(t).paddingTop);
      return m.getBoundingClientRect().top - (t.getBoundingClientRect().top + pad + (${line} - 1) * lh - t.scrollTop); })()`,
  );
  assert.ok(Math.abs(offset) < 3, `the gutter mark is ${offset}px off its line`);
  const numbers = await page.evaluate<string>("document.querySelector('.gutter').innerText");
  const expected = broken.split('\n').map((_, i) => String(i + 1));
  assert.deepEqual(numbers.split('\n').filter(Boolean), expected, 'one number per line, the marked one included');
  assert.equal((await fetch(`${gw.url}/added/x`)).status, 404, 'nothing applied');
  await screenshot(page, 'config');
  await editor.fill(broken.replace('service: nosuch', 'service: users'));
  await page.getByRole('button', { name: 'Validate & diff' }).click();
  await page.getByTestId('diff').filter({ hasText: 'routes' }).waitFor();
  const reloaded = page.waitForResponse((r) => r.url().includes('/config?format=yaml'));
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByTestId('config-outcome').filter({ hasText: 'Applied' }).waitFor();
  assert.equal((await fetch(`${gw.url}/added/x`)).status, 200, 'the new route serves');
  assert.equal((await fetch(`${gw.url}/users/1`, { headers: { 'x-api-key': 'alice-key-0123456789' } })).status, 200, 'consumers kept');
  await reloaded;
  // A change made meanwhile is not overwritten unasked: Apply sends the loaded config's ETag as If-Match.
  const meanwhile = await fetch(`${gw.adminUrl}/consumers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'carol' }),
  });
  assert.equal(meanwhile.status, 201);
  await editor.fill((await editor.inputValue()).replace('/added/*', '/added2/*'));
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('button', { name: 'Apply anyway' }).waitFor();
  assert.equal((await fetch(`${gw.url}/added2/x`)).status, 404, 'not applied over the change');
  await page.getByRole('button', { name: 'Apply anyway' }).click();
  await page.getByTestId('config-outcome').filter({ hasText: 'Applied' }).waitFor();
  assert.equal((await fetch(`${gw.url}/added2/x`)).status, 200);
  const carol = await fetch(`${gw.adminUrl}/consumers/carol`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(carol.status, 200, 'the consumer added meanwhile is kept');
});

test(
  'at phone width every page fits, its text has contrast and the focus is visible; no console errors or CSP violations anywhere',
  { skip },
  async () => {
    const phone = await browser.open({ width: 390, height: 844 });
    try {
      await phone.page.goto(`${gw.adminUrl}/ui/`);
      await loginAs(phone.page, TOKEN);
      for (const p of ['overview', 'routes', 'services', 'consumers', 'config']) {
        await phone.page.goto(`${gw.adminUrl}/ui/#/${p}`);
        await phone.page.locator('#page-title').waitFor();
        await phone.page.waitForTimeout(300);
        const width = await phone.page.evaluate<number>('document.documentElement.scrollWidth');
        assert.ok(width <= 390, `${p} is ${width}px wide at 390px`);
        assert.deepEqual(await lowContrast(phone.page), [], `text on ${p} has a contrast below 4.5:1`);
        assert.deepEqual(await unlabelled(phone.page), [], `controls on ${p} without a label`);
        if (p === 'overview') await screenshot(phone.page, 'overview-phone');
      }
      await phone.page.keyboard.press('Tab');
      await phone.page.keyboard.press('Tab');
      const outline = await phone.page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
      assert.notEqual(outline, 'none', 'the focused element shows a ring');
      assert.deepEqual(unexpectedProblems(phone.problems), []);
    } finally {
      await phone.context.close();
    }
    assert.deepEqual(unexpectedProblems(tab.problems, [/^http 400 POST \/config$/, /^http 412 POST \/config$/]), []);
    for (const name of ['overview', 'routes', 'services', 'consumers', 'config']) copyDocsImage(name);
  },
);
