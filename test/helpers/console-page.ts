// Steps the console's browser tests share: sign in, send traffic, the problems worth failing on.
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { SCREENSHOTS } from './browser.js';

export async function loginAs(page: Page, token: string): Promise<void> {
  await page.locator('#token').waitFor();
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.locator('nav[aria-label="Console pages"]').waitFor();
}

/** Requests at about `perSecond` until the returned function is called (and awaited). */
export function sendTraffic(url: string, perSecond: number, headers: Record<string, string> = {}): () => Promise<void> {
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      await Promise.all(
        Array.from({ length: Math.max(1, perSecond / 10) }, () =>
          fetch(url, { headers }).then(
            (r) => r.arrayBuffer(),
            () => undefined,
          ),
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    state.running = false;
    await loop;
  };
}

/**
 * Console errors, page errors, CSP violations and failed requests, without those a test expects:
 * the console asks GET /ui/session before anyone has signed in (401), a wrong token is refused
 * (401), and a config with an error is answered 400 — each logged by the browser as an error.
 */
export function unexpectedProblems(problems: string[], expected: RegExp[] = []): string[] {
  const allowed = [/^http 401 (GET|POST) \/ui\/session$/, ...expected];
  return problems.filter((p) => !allowed.some((a) => a.test(p)));
}

/** Copies a screenshot to docs/images/dashboard-<name>.png when UPDATE_DOCS_IMAGES=1. */
export function copyDocsImage(name: string): void {
  if (process.env.UPDATE_DOCS_IMAGES !== '1') return;
  const from = join(SCREENSHOTS, `${name}.png`);
  if (existsSync(from)) copyFileSync(from, join(process.cwd(), 'docs', 'images', `dashboard-${name}.png`));
}

/** Waits until `check` holds, asking every 100 ms; fails with `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what = 'the condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
