// The admin API can replace the whole config (POST /config): off loopback it needs a token, or an
// explicit `allowRemoteWithoutToken: true`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../validation/validate.js';

const withAdmin = (admin: Record<string, unknown>) => ({
  admin: { port: 9876, ...admin },
  services: { users: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
  routes: [{ name: 'r', service: 'users' }],
});

function adminErrors(admin: Record<string, unknown>): string[] {
  const r = validateConfig(withAdmin(admin));
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('admin API off loopback without a token is refused at admin.token', () => {
  for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.5', 'gateway.internal', '::ffff:10.0.0.1']) {
    const errs = adminErrors({ host });
    assert.equal(errs.length, 1, `${host}: ${errs.join('\n')}`);
    assert.match(errs[0]!, /^admin\.token: the admin API listens on .+ \(not loopback\) and has no token/, host);
    assert.match(errs[0]!, /allowRemoteWithoutToken/);
  }
});

test('an empty or whitespace token is no token', () => {
  for (const token of ['', ' ', '\t \n']) {
    const errs = adminErrors({ host: '0.0.0.0', token });
    assert.equal(errs.length, 1, JSON.stringify(token) + errs.join('\n'));
    assert.match(errs[0]!, /^admin\.token: /);
  }
  // On loopback an empty token means "none" (as `${TOKEN:-}` gives); whitespace would lock every
  // caller out (a bearer token is read trimmed), so it is refused wherever the API listens.
  assert.deepEqual(adminErrors({ host: '127.0.0.1', token: '' }), []);
  const blank = adminErrors({ host: '127.0.0.1', token: '  ' });
  assert.equal(blank.length, 1, blank.join('\n'));
  assert.match(blank[0]!, /^admin\.token: a token of only whitespace/);
});

test('loopback hosts need no token', () => {
  for (const host of [
    '127.0.0.1',
    '127.1.2.3',
    '127.255.255.254',
    '::1',
    '0:0:0:0:0:0:0:1',
    'localhost',
    'LOCALHOST',
    '::ffff:127.0.0.1',
  ]) {
    assert.deepEqual(adminErrors({ host }), [], host);
  }
  // Defaults: loopback.
  assert.ok(validateConfig({ services: {}, routes: [] }).ok);
});

test('the opt-out does not cover the console: it needs a token off loopback, or console: false', () => {
  assert.deepEqual(
    adminErrors({ host: '::', allowRemoteWithoutToken: true }).map((e) => e.split(':')[0]),
    ['admin.console'],
  );
  assert.deepEqual(adminErrors({ host: '0.0.0.0', token: 's3cret', console: true }), []);
  assert.deepEqual(adminErrors({ host: '127.0.0.1', console: true }), []);
});

test('a token, the opt-out, or a disabled admin API make any host acceptable', () => {
  assert.deepEqual(adminErrors({ host: '0.0.0.0', token: 's3cret' }), []);
  assert.deepEqual(adminErrors({ host: '::', allowRemoteWithoutToken: true, console: false }), []);
  assert.deepEqual(adminErrors({ host: '0.0.0.0', enabled: false }), []);
  const r = validateConfig(withAdmin({ host: '0.0.0.0', allowRemoteWithoutToken: true, console: false }));
  assert.ok(r.ok);
  assert.equal(r.config.admin.allowRemoteWithoutToken, true);
  assert.deepEqual(
    adminErrors({ host: '0.0.0.0', allowRemoteWithoutToken: 'yes' }).map((e) => e.split(':')[0]),
    ['admin.allowRemoteWithoutToken'],
  );
});

test('the admin check still runs beside schema errors elsewhere in admin', () => {
  const errs = adminErrors({ host: '0.0.0.0', tokn: 'x' });
  assert.ok(
    errs.some((e) => e.startsWith('admin.tokn: unknown key')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('admin.token: ')),
    errs.join('\n'),
  );
});
