// A target given by a DNS name: each resolved address becomes a target, re-resolved every dnsTtl
// without blocking requests; a failed resolution keeps the last addresses. The lookup is injected
// (no DNS server here); the upstreams are real servers on two loopback addresses, same port.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { DataPlane } from '../src/dataplane/dataplane.js';
import { validateConfig } from '../src/validation/validate.js';
import { silentLogger } from '../src/observability/logger.js';
import type { ResolvedAddress } from '../src/upstream/dns-resolver.js';
import { waitFor } from './helpers/child.js';

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

function serve(host: string, port: number, name: string): Promise<http.Server> {
  const s = http.createServer((req, res) => {
    res.writeHead(200, { 'x-host-seen': req.headers.host ?? '' });
    res.end(name);
  });
  s.keepAliveTimeout = 60_000; // idle connections stay unless the gateway closes them
  servers.push(s);
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}

test('each address of a DNS name is a target; changes are followed; failures keep the last list', async () => {
  const one = await serve('127.0.0.1', 0, 'one');
  const port = (one.address() as AddressInfo).port;
  await serve('127.0.0.2', port, 'two');

  let answer: string[] | Error = ['127.0.0.1'];
  let lookups = 0;
  const lookup = (hostname: string): Promise<ResolvedAddress[]> => {
    lookups++;
    assert.equal(hostname, 'backend.internal');
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve(answer.map((address) => ({ address, family: 4 })));
  };
  const r = validateConfig({
    accessLog: false,
    services: { svc: { dnsTtl: '50ms', targets: [{ url: `http://backend.internal:${port}` }] } },
    routes: [{ name: 'all', service: 'svc' }],
  });
  assert.ok(r.ok);
  const dp = new DataPlane(r.config, silentLogger, { lookup });
  const [bound] = await dp.listen([{ port: 0, host: '127.0.0.1' }]);
  after(() => dp.destroy());
  const url = `http://127.0.0.1:${bound!.port}/x`;
  const call = async () => {
    const res = await request(url);
    return { body: await res.body.text(), host: res.headers['x-host-seen'] };
  };

  await waitFor('the first resolution', () => lookups > 0);
  const first = await call();
  assert.deepEqual(first, { body: 'one', host: `backend.internal:${port}` }, 'the upstream sees the name as Host');

  answer = ['127.0.0.1', '127.0.0.2'];
  const seen = await waitFor(
    'both addresses to be used',
    async () => {
      const names = new Set<string>();
      for (let i = 0; i < 10; i++) names.add((await call()).body);
      return names.size === 2 && names;
    },
    5000,
  );
  assert.deepEqual([...seen].sort(), ['one', 'two']);

  answer = new Error('SERVFAIL');
  const failedAt = lookups;
  await waitFor('a failed lookup', () => lookups > failedAt + 1);
  const during = new Set<string>();
  for (let i = 0; i < 10; i++) during.add((await call()).body);
  assert.deepEqual([...during].sort(), ['one', 'two'], 'the last good addresses stay');

  answer = ['127.0.0.2'];
  await waitFor(
    'only the second address',
    async () => {
      for (let i = 0; i < 6; i++) if ((await call()).body !== 'two') return false;
      return true;
    },
    5000,
  );
  // The pool of the address that went away is closed: its keep-alive connections end.
  await waitFor(
    "the old address's connections to close",
    () => new Promise<boolean>((r) => one.getConnections((_e, n) => r(n === 0))),
    5000,
  );
  const health = dp.inspect({ what: 'health', service: 'svc' }) as { targets: { target: string }[] };
  assert.ok(health.targets.some((t) => t.target === `http://backend.internal:${port} (127.0.0.2)`));
});
