// The console with 1,000 routes and 10,000 consumers: the Routes and Consumers pages are measured
// (navigation start → the first render of their data; printed, no threshold), the consumer list
// stays virtualised (a few dozen rows in the DOM while all 10,000 are scrolled through) and pages
// the API, and the route table renders in steps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type Upstream } from './helpers/upstream.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { maybeUnset } from './helpers/hooks.js';
import { browserMissing, launchBrowser, screenshot, type TestBrowser, type TestPage } from './helpers/browser.js';
import { loginAs, unexpectedProblems, until } from './helpers/console-page.js';

const skip = browserMissing();
const TOKEN = 'console-load-token-0123456789';
const ROUTES = 1000;
const CONSUMERS = 10000;
let up: Upstream;
let gw: TestGateway;
let browser: TestBrowser;
let tab: TestPage;

before(async () => {
  if (skip) return;
  up = await startUpstream();
  gw = await startTestGateway({
    admin: { token: TOKEN },
    services: { api: { targets: [{ url: up.url }] } },
    routes: Array.from({ length: ROUTES }, (_, i) => ({
      name: `route-${String(i).padStart(4, '0')}`,
      match: { paths: [`/api/r${i}/*`], ...(i % 3 === 0 ? { methods: ['GET', 'POST'] } : {}) },
      service: 'api',
      policies: i % 2 === 0 ? [{ type: 'key-auth' }] : [],
    })),
    consumers: Array.from({ length: CONSUMERS }, (_, i) => ({
      id: `consumer-${String(i).padStart(5, '0')}`,
      credentials: [{ type: 'api-key', key: `load-key-${i}-0123456789` }],
    })),
  });
  browser = await launchBrowser();
  tab = await browser.open({ width: 1280, height: 900 });
  await tab.page.goto(`${gw.adminUrl}/ui/`);
  await loginAs(tab.page, TOKEN);
});

after(async () => {
  await maybeUnset(browser)?.close();
  await maybeUnset(gw)?.stop();
  await maybeUnset(up)?.close();
});

/** The page's requests so far: path, start and duration (ms after navigation start). */
async function resources(): Promise<string> {
  return tab.page.evaluate<string>(
    'performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname + new URL(e.name).search + " @" + Math.round(e.startTime) + "+" + Math.round(e.duration)).join(", ")',
  );
}

/** Milliseconds from the navigation's start to now, in the page's clock. */
async function sinceNavigation(): Promise<number> {
  return Math.round(await tab.page.evaluate<number>('performance.now()'));
}

test(`the Routes page with ${ROUTES} routes: time to the table, rendered in steps`, { skip }, async () => {
  const { page } = tab;
  await page.goto('about:blank');
  await page.goto(`${gw.adminUrl}/ui/#/routes`);
  await page
    .getByTestId('route-count')
    .filter({ hasText: `${ROUTES} of ${ROUTES} routes` })
    .waitFor();
  await page.locator('table tbody tr').first().waitFor();
  const ms = await sinceNavigation();
  const timing = await page.evaluate<string>(
    'JSON.stringify((({ domContentLoadedEventEnd, loadEventEnd, responseEnd }) => ({ responseEnd, domContentLoadedEventEnd, loadEventEnd }))(performance.getEntriesByType("navigation")[0]))',
  );
  console.log(
    `# console load: routes page (${ROUTES} routes) first render ${ms} ms after navigation start; navigation ${timing}; requests ${await resources()}`,
  );
  const rows = await page.locator('table tbody tr').count();
  assert.ok(rows > 0 && rows <= 100, `${rows} rows in the DOM at first`);
  await page.fill('#route-filter', 'route-0999');
  await page
    .getByTestId('route-count')
    .filter({ hasText: `1 of ${ROUTES} routes` })
    .waitFor();
  await screenshot(page, 'routes-1000');
});

test(`the Consumers page with ${CONSUMERS} consumers: time to the list, virtualised and paged`, { skip }, async () => {
  const { page } = tab;
  await page.goto('about:blank');
  let listRequests = 0;
  page.on('request', (r) => {
    if (/\/consumers\?/.test(r.url())) listRequests++;
  });
  await page.goto(`${gw.adminUrl}/ui/#/consumers`);
  await page.locator('.vrow').first().waitFor();
  const ms = await sinceNavigation();
  console.log(
    `# console load: consumers page (${CONSUMERS} consumers) first render ${ms} ms after navigation start; requests ${await resources()}`,
  );
  assert.ok(listRequests <= 2, `${listRequests} page requests for the first screen`);
  // Scroll to the end, a screenful at a time past each page: every consumer is loaded, few are in the DOM.
  const list = page.getByRole('region', { name: 'Consumers, by id' });
  const last = page.locator('.vrow-id', { hasText: `consumer-${String(CONSUMERS - 1).padStart(5, '0')}` });
  await until(
    async () => {
      await list.hover();
      await page.mouse.wheel(0, 50000);
      const count = (await page.getByTestId('consumer-count').textContent()) ?? '';
      return count.startsWith(`${CONSUMERS} consumers`) && (await last.count()) === 1;
    },
    30000,
    'all consumers loaded by scrolling',
  );
  const inDom = await page.locator('.vrow').count();
  assert.ok(inDom < 100, `${inDom} rows in the DOM for ${CONSUMERS} consumers`);
  assert.ok(listRequests >= CONSUMERS / 1000, `${listRequests} page requests`);
  // A search by prefix asks the API from that id on, not the whole list.
  await page.fill('#consumer-search', 'consumer-0420');
  await page
    .getByTestId('consumer-count')
    .filter({ hasText: /^10 consumers$/ })
    .waitFor();
  assert.deepEqual(unexpectedProblems(tab.problems), []);
});
