import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from './validate.js';
import { configFromText } from './load.js';

// A config document as a test edits it: a few known fields, and any other key it adds (right or wrong).
interface Route {
  match: { paths: string[]; [key: string]: unknown };
  [key: string]: unknown;
}
interface Doc {
  services: { users: { targets: { url: string }[]; [key: string]: unknown } };
  routes: [Route, ...Route[]];
  [key: string]: unknown;
}

const base = (): Doc => ({
  services: { users: { targets: [{ url: 'http://127.0.0.1:3001' }] } },
  routes: [{ name: 'r', match: { paths: ['/users/*'] }, service: 'users' }],
});

function errorsOf(doc: unknown): string[] {
  const r = validateConfig(doc);
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}

test('a minimal config is valid and gets defaults', () => {
  const r = validateConfig(base());
  assert.ok(r.ok);
  assert.equal(r.config.workers, 1);
  assert.equal(r.config.accessLog, true);
  assert.deepEqual(r.config.admin, { enabled: true, port: 9876, host: '127.0.0.1', console: true });
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
  assert.ok(errs.includes('routes[0].servce: unknown key "servce" (did you mean "service"?)'), errs.join('\n'));
});

test('dangling references and duplicate names are refused', () => {
  const doc = base();
  doc.routes.push({ name: 'r', match: { paths: ['/x'] }, service: 'nope' });
  const errs = errorsOf(doc);
  assert.ok(
    errs.some((e) => e.startsWith('routes[1].name: duplicate route name "r"')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('routes[1].service: service "nope" is not defined')),
    errs.join('\n'),
  );
});

test('invalid values are refused with readable messages', () => {
  const doc = base();
  doc.services.users.timeouts = { connect: '5 parsecs' };
  doc.routes[0].match.paths.push('nope');
  doc.workers = 0;
  let errs = errorsOf(doc);
  const has = (prefix: string) =>
    assert.ok(
      errs.some((e) => e.startsWith(prefix)),
      `${prefix}\n---\n${errs.join('\n')}`,
    );
  has('services.users.timeouts.connect: expected a duration');
  has('routes[0].match.paths[1]: a path starts with "/"');
  has('workers:');
  // Cross-reference and pattern checks (they also run beside schema errors; see the CLI tests).
  const doc2 = base();
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
  const doc = base();
  doc.routes[0].stripPrefix = '/users';
  doc.routes[0].rewrite = '/u/:id';
  const errs = errorsOf(doc);
  assert.ok(
    errs.some((e) => e.startsWith('routes[0].rewrite: use either stripPrefix or rewrite')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('routes[0].rewrite: ":id" is not captured')),
    errs.join('\n'),
  );
});

test('unknown policy types are named', () => {
  const doc = base();
  doc.routes[0].policies = [{ type: 'telepathy' }];
  const errs = errorsOf(doc);
  assert.ok(
    errs.some((e) => e.startsWith('routes[0].policies[0].type: unknown policy type')),
    errs.join('\n'),
  );
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
  assert.ok(
    errs.some((e) => e.startsWith('services.users.balancer:')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('services.users.retries.on[0]:')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('services.users.circuitBreaker.failureRatio:')),
    errs.join('\n'),
  );

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
  assert.deepEqual(errorsOf(doc3), [
    'services.users.hashOn: hashOn "header": "header:" needs a header name made of letters, digits and !#$%&\'*+-.^_`|~',
  ]);
  delete (doc3.services.users as { hashOn?: string }).hashOn;
  assert.deepEqual(errorsOf(doc3), [
    'services.users.hashOn: consistent-hash needs hashOn: ip, consumer, path, header:<name>, cookie:<name> or query:<name>',
  ]);
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

// One run reports every error: a schema error in one field does not hide a cross-reference or
// pattern error elsewhere in the same service or route (issue 15, item 10).
test('a bad hashOn does not hide a bad target URL of the same service', () => {
  const doc = base();
  Object.assign(doc.services.users, { balancer: 'consistent-hash', hashOn: 'header' });
  doc.services.users.targets.push({ url: 'ftp://x' });
  const errs = errorsOf(doc);
  assert.ok(
    errs.some((e) => e.startsWith('services.users.hashOn: hashOn "header"')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('services.users.targets[1].url: only http:// and https://')),
    errs.join('\n'),
  );
});

test('a bad path does not hide that the route name is a duplicate', () => {
  const doc = base();
  doc.routes.push({ name: 'r', match: { paths: ['no-slash'] }, service: 'users' });
  const errs = errorsOf(doc);
  assert.ok(errs.includes('routes[1].match.paths[0]: a path starts with "/"'), errs.join('\n'));
  assert.ok(
    errs.some((e) => e.startsWith('routes[1].name: duplicate route name "r"')),
    errs.join('\n'),
  );
  assert.equal(errs.length, 2, errs.join('\n'));
});

test('an unknown key does not hide a dangling service reference', () => {
  const doc = base();
  doc.routes[0].service = 'ghost';
  doc.routes[0].colour = 'blue';
  const errs = errorsOf(doc);
  assert.ok(
    errs.some((e) => e.startsWith('routes[0].colour: unknown key "colour"')),
    errs.join('\n'),
  );
  assert.ok(
    errs.some((e) => e.startsWith('routes[0].service: service "ghost" is not defined')),
    errs.join('\n'),
  );
  assert.equal(errs.length, 2, errs.join('\n'));
});

test('schema errors and plan references are reported together, each once', () => {
  const errs = errorsOf({ ...base(), workers: 0, defaultPlan: 'free' });
  assert.ok(
    errs.some((e) => e.startsWith('workers:')),
    errs.join('\n'),
  );
  assert.ok(errs.includes('defaultPlan: plan "free" is not defined'), errs.join('\n'));
  assert.equal(new Set(errs).size, errs.length, errs.join('\n'));
});

test('an unknown key suggests the closest known key', () => {
  const doc = base();
  doc.services.users.timeout = { connect: '1s' };
  doc.listn = [{ port: 8080 }];
  doc.routes[0].match.header = { x: '1' };
  doc.routes[0].zzzzzz = 1;
  const errs = errorsOf(doc);
  assert.ok(errs.includes('services.users.timeout: unknown key "timeout" (did you mean "timeouts"?)'), errs.join('\n'));
  assert.ok(errs.includes('listn: unknown key "listn" (did you mean "listen"?)'), errs.join('\n'));
  assert.ok(errs.includes('routes[0].match.header: unknown key "header" (did you mean "headers"?)'), errs.join('\n'));
  // Nothing close: no guess.
  assert.ok(errs.includes('routes[0].zzzzzz: unknown key "zzzzzz"'), errs.join('\n'));
});

test('workers of the wrong type or range says that "auto" is allowed too', () => {
  for (const workers of ['many', 0, 1.5, true]) {
    const errs = errorsOf({ ...base(), workers });
    assert.equal(errs.length, 1, errs.join('\n'));
    assert.match(errs[0]!, /^workers: .*1 to 256.*"auto"/, String(workers));
  }
  assert.ok(validateConfig({ ...base(), workers: 'auto' }).ok);
});

test('a duplicate YAML key is named', () => {
  const top = configFromText('workers: 1\nworkers: 2\n');
  assert.ok(!top.ok);
  assert.deepEqual(top.errors, [{ path: 'line 2, column 1', message: 'duplicate key "workers"' }]);
  const nested = configFromText('services:\n  users:\n    targets: []\n    "targets": []\n');
  assert.ok(!nested.ok);
  assert.deepEqual(nested.errors, [{ path: 'line 4, column 5', message: 'duplicate key "targets"' }]);
  const flow = configFromText('admin: { port: 1, port: 2 }\n');
  assert.ok(!flow.ok);
  assert.deepEqual(flow.errors, [{ path: 'line 1, column 19', message: 'duplicate key "port"' }]);
});
