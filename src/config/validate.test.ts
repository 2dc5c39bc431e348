import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from './validate.js';
import { configFromText } from './load.js';

const base = () => ({
  services: { users: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
  routes: [{ name: 'r', match: { paths: ['/users/*'] }, service: 'users' }],
});

function errorsOf(doc: unknown): string[] {
  const r = validateConfig(doc);
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('a minimal config is valid and gets defaults', () => {
  const r = validateConfig(base());
  assert.ok(r.ok);
  assert.equal(r.config.workers, 1);
  assert.equal(r.config.accessLog, true);
  assert.deepEqual(r.config.admin, { enabled: true, port: 9876, host: '127.0.0.1' });
  assert.deepEqual(r.config.listen, [{ port: 8080, host: '0.0.0.0' }]);
  assert.equal(r.config.services.users!.targets[0]!.weight, 1);
  assert.deepEqual(r.config.routes[0]!.policies, []);
});

test('unknown keys are refused with their path', () => {
  const doc = base() as Record<string, unknown>;
  doc.colour = 'blue';
  (doc.routes as Record<string, unknown>[])[0]!.servce = 'x';
  const errs = errorsOf(doc);
  assert.ok(errs.includes('colour: unknown key "colour"'), errs.join('\n'));
  assert.ok(errs.includes('routes[0].servce: unknown key "servce"'), errs.join('\n'));
});

test('dangling references and duplicate names are refused', () => {
  const doc = base();
  doc.routes.push({ name: 'r', match: { paths: ['/x'] }, service: 'nope' });
  const errs = errorsOf(doc);
  assert.ok(errs.some((e) => e.startsWith('routes[1].name: duplicate route name "r"')), errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith('routes[1].service: service "nope" is not defined')), errs.join('\n'));
});

test('invalid values are refused with readable messages', () => {
  const doc = base() as any;
  doc.services.users.timeouts = { connect: '5 parsecs' };
  doc.routes[0].match.paths.push('nope');
  doc.workers = 0;
  let errs = errorsOf(doc);
  const has = (prefix: string) => assert.ok(errs.some((e) => e.startsWith(prefix)), `${prefix}\n---\n${errs.join('\n')}`);
  has('services.users.timeouts.connect: expected a duration');
  has('routes[0].match.paths[1]: a path starts with "/"');
  has('workers:');
  // Cross-reference and pattern checks (they also run beside schema errors; see the CLI tests).
  const doc2 = base() as any;
  doc2.services.users.targets.push({ url: 'ftp://x' });
  doc2.routes[0].match.paths.push('/a/*/b');
  doc2.routes[0].match.hosts = ['bad host'];
  doc2.routes[0].match.headers = { x: { regex: '(' } };
  doc2.trustedProxies = ['10.0.0.0/33'];
  errs = errorsOf(doc2);
  has('services.users.targets[1].url: only http:// and https://');
  has('routes[0].match.paths[1]: "*" is only allowed as the last segment');
  has('routes[0].match.hosts[0]:');
  has('routes[0].match.headers.x.regex: invalid regular expression');
  has('trustedProxies[0]:');
});

test('stripPrefix and rewrite are exclusive; rewrite params must be captured', () => {
  const doc = base() as any;
  doc.routes[0].stripPrefix = '/users';
  doc.routes[0].rewrite = '/u/:id';
  const errs = errorsOf(doc);
  assert.ok(errs.some((e) => e.startsWith('routes[0].rewrite: use either stripPrefix or rewrite')), errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith('routes[0].rewrite: ":id" is not captured')), errs.join('\n'));
});

test('unknown policy types are named', () => {
  const doc = base() as any;
  doc.routes[0].policies = [{ type: 'telepathy' }];
  const errs = errorsOf(doc);
  assert.ok(errs.some((e) => e.startsWith('routes[0].policies[0].type: unknown policy type')), errs.join('\n'));
});

test('the admin API may not share a data-plane port', () => {
  const doc = { ...base(), listen: [{ port: 9000 }], admin: { port: 9000 } };
  assert.ok(errorsOf(doc).some((e) => e.startsWith('admin.port:')));
});

test('YAML text with env interpolation, typed whole references, and parse errors', () => {
  const yaml = `
listen:
  - port: \${PORT}
    host: \${HOST:-127.0.0.1}
admin: { token: "\${TOKEN:-}" }
services:
  s: { targets: [{ url: "http://\${UP_HOST}:3001" }] }
routes: [{ name: r, service: s }]
`;
  const r = configFromText(yaml, { PORT: '8081', UP_HOST: 'backend' });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.config.listen[0]!.port, 8081);
  assert.equal(r.config.listen[0]!.host, '127.0.0.1');
  assert.equal(r.config.admin.token, '');
  assert.equal(r.config.services.s!.targets[0]!.url, 'http://backend:3001');
  assert.deepEqual(r.config.routes[0]!.match.paths, ['/*']);

  const missing = configFromText(yaml, {});
  assert.ok(!missing.ok);
  assert.ok(missing.errors.some((e) => e.path === 'listen[0].port' && e.message.includes('PORT is not set')));

  const broken = configFromText('routes: [\n  name: x\n');
  assert.ok(!broken.ok);
  assert.match(broken.errors[0]!.path, /^line \d+, column \d+$/);

  const dup = configFromText('workers: 1\nworkers: 2\n');
  assert.ok(!dup.ok);
});

test('resilience settings: bad balancer, hashOn spelling and misuse, inverted backoff and open durations', () => {
  const doc = base() as { services: { users: Record<string, unknown> } };
  Object.assign(doc.services.users, {
    balancer: 'fastest',
    retries: { attempts: 3, on: ['sometimes'], backoff: { base: '1s', max: '10ms' } },
    circuitBreaker: { failureRatio: 2 },
  });
  const errs = errorsOf(doc);
  assert.ok(errs.some((e) => e.startsWith('services.users.balancer:')), errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith('services.users.retries.on[0]:')), errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith('services.users.circuitBreaker.failureRatio:')), errs.join('\n'));

  const doc2 = base() as { services: { users: Record<string, unknown> } };
  Object.assign(doc2.services.users, {
    hashOn: 'header:x-user',
    retries: { backoff: { base: '1s', max: '10ms' } },
    circuitBreaker: { openDuration: '10m', maxOpenDuration: '1m' },
  });
  assert.deepEqual(errorsOf(doc2), [
    'services.users.hashOn: hashOn is only used by balancer: consistent-hash (this service uses round-robin)',
    'services.users.retries.backoff: base is longer than max',
    'services.users.circuitBreaker.openDuration: openDuration is longer than maxOpenDuration',
  ]);

  const doc3 = base() as { services: { users: Record<string, unknown> } };
  Object.assign(doc3.services.users, { balancer: 'consistent-hash', hashOn: 'header' });
  assert.deepEqual(errorsOf(doc3), ['services.users.hashOn: hashOn "header": "header:" needs a header name made of letters, digits and !#$%&\'*+-.^_`|~']);
  delete (doc3.services.users as { hashOn?: string }).hashOn;
  assert.deepEqual(errorsOf(doc3), ['services.users.hashOn: consistent-hash needs hashOn: ip, consumer, path, header:<name>, cookie:<name> or query:<name>']);
  Object.assign(doc3.services.users, { hashOn: 'cookie:session' });
  assert.ok(validateConfig(doc3).ok);
});

test('a consumer naming an undefined plan is refused once plans are in use', () => {
  const doc = {
    ...base(),
    plans: { free: { limits: [{ algorithm: 'fixed-window', limit: 1, window: '1m' }] } },
    consumers: [{ id: 'a', plan: 'gold', credentials: [{ type: 'api-key', key: 'k' }] }],
  };
  assert.deepEqual(errorsOf(doc), ['consumers[0].plan: plan "gold" is not defined (defined: free)']);
  doc.consumers[0]!.plan = 'free';
  assert.ok(validateConfig(doc).ok);
});
