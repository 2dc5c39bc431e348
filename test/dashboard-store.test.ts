// The console of an instance whose config lives in a config store (a real PostgreSQL, a database
// of this file's own): the Cluster page with a lagging, silent instance flagged, and the config's
// history with a rollback that the data plane then serves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type Gateway } from '../src/gateway.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import { migrate } from '../src/controlplane/migrations.js';
import { connect } from '../src/controlplane/pg.js';
import { testBoot } from './helpers/gateway.js';
import { createDatabase, type TestDatabase } from './helpers/postgres.js';
import { maybeUnset } from './helpers/hooks.js';
import { browserMissing, launchBrowser, screenshot, type TestBrowser, type TestPage } from './helpers/browser.js';
import { loginAs, unexpectedProblems, until } from './helpers/console-page.js';

const skip = browserMissing();
const TOKEN = 'console-store-token-0123456789';
let db: TestDatabase;
let gw: Gateway;
let admin: string;
let url: string;
let browser: TestBrowser;
let tab: TestPage;

/** The stored part of a config whose one route answers `body`. */
function config(body: string): string {
  return JSON.stringify({
    accessLog: false,
    services: { api: { targets: [{ url: 'http://127.0.0.1:1' }] } },
    routes: [{ name: 'r', match: { paths: ['/v'] }, service: 'api', policies: [{ type: 'request-termination', status: 200, body }] }],
  });
}

async function served(): Promise<string> {
  const res = await fetch(`${url}/v`);
  return res.status === 200 ? res.text() : `status ${res.status}`;
}

before(async () => {
  if (skip) return;
  db = await createDatabase();
  const c = await connect(db.url);
  await migrate(c, 'gh');
  await c.end();
  const boot = validateConfig(
    testBoot(
      { type: 'postgres', url: db.url, schema: 'gh', pollIntervalMs: 3_600_000, heartbeatIntervalMs: 200 },
      { admin: { token: TOKEN } },
    ),
  );
  assert.ok(boot.ok, JSON.stringify(!boot.ok && boot.errors));
  gw = await startGateway({ config: boot.config, logger: silentLogger });
  admin = `http://127.0.0.1:${gw.admin!.port}`;
  url = gw.listeners[0]!.url;
  for (const [body, comment] of [
    ['one', 'first'],
    ['two', 'second'],
  ]) {
    const r = await fetch(`${admin}/config`, {
      method: 'POST',
      body: config(body!),
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-gatehouse-comment': comment! },
    });
    assert.equal(r.status, 200, await r.text());
  }
  const pgc = await connect(db.url);
  await pgc.query(
    `INSERT INTO gh.instances (id, address, version, last_seen) VALUES ('ghost', 'http://10.0.0.9:8080', 1, now() - interval '1 hour')`,
  );
  await pgc.end();
  browser = await launchBrowser();
  tab = await browser.open({ width: 1280, height: 900 });
  await tab.page.goto(`${admin}/ui/`);
  await loginAs(tab.page, TOKEN);
});

after(async () => {
  await maybeUnset(browser)?.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(db)?.drop();
});

test('the Cluster page lists the instances with their versions; the silent one is stale and lagging', { skip }, async () => {
  const { page } = tab;
  await page.getByRole('link', { name: 'Cluster' }).click();
  const ghost = page.locator('tr', { hasText: 'ghost' });
  await ghost.waitFor();
  assert.match((await ghost.textContent()) ?? '', /stale/);
  assert.match((await ghost.textContent()) ?? '', /lagging/);
  const self = page.locator('tr', { hasText: '(this one)' });
  assert.match((await self.textContent()) ?? '', /current/);
  await screenshot(page, 'cluster');
});

test('the config history lists the versions; a rollback is applied and served', { skip }, async () => {
  const { page } = tab;
  assert.equal(await served(), 'two');
  await page.getByRole('link', { name: 'Config' }).click();
  const history = page.locator('section', { has: page.getByRole('heading', { name: 'History' }) });
  await history.locator('tr', { hasText: 'second' }).waitFor();
  assert.match((await history.locator('tr', { hasText: 'second' }).textContent()) ?? '', /running/);
  await history.getByRole('button', { name: 'Diff of version 2' }).click();
  await history.getByTestId('diff').filter({ hasText: 'routes' }).waitFor();
  await history.getByRole('button', { name: 'Roll back to version 1' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
  await history.getByText('Rolled back to version 1').waitFor();
  await until(async () => (await served()) === 'one', 5000, 'the rolled-back config served');
  await history.locator('tr', { hasText: 'rollback to version 1' }).filter({ hasText: 'console' }).waitFor();
  await screenshot(page, 'config-history');
  assert.deepEqual(unexpectedProblems(tab.problems), []);
});
