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

/**
 * Visible text whose colour has a contrast below 4.5:1 (3:1 for large text) against the first
 * opaque background behind it, as "text (ratio)". Run in the page (a string: the root tsconfig has
 * no DOM types); backgrounds with transparency are skipped over, images and canvases not looked at.
 */
export async function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`(() => {
    const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c; } return [255, 255, 255]; };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement; const text = n.textContent.trim();
      if (!el || !text || el.closest('[aria-hidden=true]')) continue;
      const box = el.getBoundingClientRect(); const cs = getComputedStyle(el);
      if (box.width === 0 || box.height === 0 || cs.visibility === 'hidden' || cs.opacity === '0') continue;
      const a = lum(rgb(cs.color)), b = lum(bg(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
      const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      if (ratio < need) out.push(text.slice(0, 40) + ' (' + ratio.toFixed(2) + ')');
    }
    return out;
  })()`);
}

/** Form controls on the page without a label (a <label>, aria-label or aria-labelledby), by id or tag. */
export async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`[...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.type !== 'hidden')
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')
      && !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map((el) => el.id || el.tagName.toLowerCase())`);
}
