import { test } from 'node:test';
import assert from 'node:assert/strict';
import { botDetectionPolicy } from './bot-detection.js';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';

function make(cfg: Record<string, unknown> = {}) {
  return botDetectionPolicy.create(botDetectionPolicy.schema.parse({ type: 'bot-detection', ...cfg }), testEnv());
}
const code = (p: ReturnType<typeof make>, ua?: string) =>
  (p.access!(testContext({ headers: ua === undefined ? {} : { 'User-Agent': ua } })) as { code?: string } | undefined)?.code;

test('the built-in list refuses common attack tools, case-insensitively', () => {
  const p = make();
  for (const ua of [
    'sqlmap/1.7.2#stable (https://sqlmap.org)',
    'Mozilla/5.00 (Nikto/2.1.6)',
    'Mozilla/5.0 zgrab/0.x',
    'Nuclei - Open-source project',
    'WPScan v3.8',
    'SQLMAP',
  ]) {
    assert.equal(code(p, ua), 'GW_BOT_FORBIDDEN', ua);
  }
});

test('ordinary clients and generic HTTP libraries pass', () => {
  const p = make();
  for (const ua of [
    'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0',
    'curl/8.5.0',
    'python-requests/2.32',
    'Go-http-client/1.1',
    'undici',
  ]) {
    assert.equal(code(p, ua), undefined, ua);
  }
});

test('deny patterns add to the list; allow patterns win over both', () => {
  const p = make({ deny: ['^BadCrawler/', 'evil'], allow: ['^sqlmap-internal-audit'] });
  assert.equal(code(p, 'BadCrawler/2.0'), 'GW_BOT_FORBIDDEN');
  assert.equal(code(p, 'something EVIL inside'), 'GW_BOT_FORBIDDEN');
  assert.equal(code(p, 'GoodCrawler/2.0 BadCrawler/'), undefined, 'anchored pattern');
  assert.equal(code(p, 'sqlmap-internal-audit/1.0'), undefined);
  assert.equal(code(p, 'sqlmap/1.0'), 'GW_BOT_FORBIDDEN');
});

test('builtin: false keeps only the configured patterns', () => {
  const p = make({ builtin: false, deny: ['scraper'] });
  assert.equal(code(p, 'sqlmap/1.0'), undefined);
  assert.equal(code(p, 'my-scraper'), 'GW_BOT_FORBIDDEN');
});

test('a missing User-Agent passes unless denyMissing', () => {
  assert.equal(code(make()), undefined);
  assert.equal(code(make({ denyMissing: true })), 'GW_BOT_FORBIDDEN');
  assert.equal(code(make({ denyMissing: true }), ''), 'GW_BOT_FORBIDDEN');
});

test('schema: a pattern that does not compile is refused', () => {
  assert.equal(botDetectionPolicy.schema.safeParse({ type: 'bot-detection', deny: ['(unclosed'] }).success, false);
});
