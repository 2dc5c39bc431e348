// A real browser for the console's tests: Debian's chromium driven by playwright-core (which never
// downloads a browser). One browser per test file; each page records console errors, uncaught
// exceptions and CSP violations so a test can assert there were none.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(process.cwd(), 'test-results', 'dashboard');

/**
 * Why the browser tests cannot run here, or undefined when they can. Without the browser they are
 * skipped loudly — except in CI (CI=true), where a missing browser fails them.
 */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `${CHROMIUM} is missing (apt-get install chromium): the console's browser tests cannot run`;
  if (process.env.CI === 'true') throw new Error(why);
  console.warn(`\n!!! SKIPPED: ${why}\n`);
  return why;
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (cookies, storage) and a page in it, with its problems recorded. */
  open(viewport?: { width: number; height: number }): Promise<TestPage>;
  close(): Promise<void>;
}

export interface TestPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
}

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
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
    // launch() gives the browser a fresh temporary profile of its own and removes it on close.
  });
  return {
    browser,
    async open(viewport = { width: 1280, height: 900 }) {
      const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
      // A step that waits longer than this is broken, not slow: fail it rather than the file's time box.
      context.setDefaultTimeout(10000);
      const page = await context.newPage();
      const problems: string[] = [];
      // A failed request is recorded with its URL (the browser's own console line for it names none).
      page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
      });
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`http ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      // A CSP violation is reported to the page as an event; record it through a binding.
      await page.exposeBinding('__gatehouseViolation', (_src, text: string) => problems.push(`csp: ${text}`));
      // (A string: the root tsconfig has no DOM types.)
      await page.addInitScript({
        content: `document.addEventListener('securitypolicyviolation', (e) => window.__gatehouseViolation(e.violatedDirective + ' ' + e.blockedURI));`,
      });
      return { context, page, problems };
    },
    async close() {
      await browser.close();
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}
