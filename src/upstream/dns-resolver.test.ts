import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsResolver, type LookupAll, type ResolvedAddress, type ResolverTimers } from './dns-resolver.js';

/** Timers run by hand: `fire()` runs the one pending callback. */
class ManualTimers implements ResolverTimers {
  pending: { fn: () => void; ms: number } | undefined;
  setTimeout(fn: () => void, ms: number): unknown {
    assert.equal(this.pending, undefined, 'one timer at a time');
    this.pending = { fn, ms };
    return this.pending;
  }
  clearTimeout(handle: unknown): void {
    if (handle === this.pending) this.pending = undefined;
  }
  fire(): number {
    const p = this.pending;
    assert.ok(p, 'a timer is pending');
    this.pending = undefined;
    p.fn();
    return p.ms;
  }
}

/** A lookup that answers from a script: an address list, or an Error to throw. */
function scripted(answers: (string[] | Error)[]): { lookup: LookupAll; calls: number } {
  const state = { calls: 0, lookup: (() => Promise.resolve([])) as LookupAll };
  state.lookup = (hostname) => {
    assert.equal(hostname, 'api.internal');
    const a = answers[Math.min(state.calls++, answers.length - 1)]!;
    if (a instanceof Error) return Promise.reject(a);
    return Promise.resolve(a.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  return state;
}

const flush = () => new Promise<void>((r) => setImmediate(r));

test('dns resolver: notifies on the first answer and on changes only, every interval', async () => {
  const timers = new ManualTimers();
  const script = scripted([
    ['10.0.0.2', '10.0.0.1'],
    ['10.0.0.1', '10.0.0.2', '10.0.0.1'], // same set, other order, a duplicate
    ['10.0.0.1', '10.0.0.3'],
  ]);
  const changes: string[][] = [];
  const r = new DnsResolver({
    hostname: 'api.internal',
    intervalMs: 30_000,
    lookup: script.lookup,
    timers,
    onChange: (a) => changes.push([...a]),
  });
  assert.deepEqual(r.addresses, [], 'nothing before the first answer');
  const first = await r.start();
  assert.equal(r.start(), r.start(), 'start once');
  assert.deepEqual(first, ['10.0.0.1', '10.0.0.2']);
  assert.equal(timers.fire(), 30_000);
  await flush();
  assert.deepEqual(changes, [['10.0.0.1', '10.0.0.2']], 'no change, no call');
  timers.fire();
  await flush();
  assert.deepEqual(changes, [
    ['10.0.0.1', '10.0.0.2'],
    ['10.0.0.1', '10.0.0.3'],
  ]);
  assert.deepEqual(r.addresses, ['10.0.0.1', '10.0.0.3']);
  assert.equal(script.calls, 3);
  r.stop();
  assert.equal(timers.pending, undefined);
});

test('dns resolver: a failure or an empty answer keeps the last good list and retries sooner', async () => {
  const timers = new ManualTimers();
  const script = scripted([['10.0.0.1'], new Error('ESERVFAIL'), [], ['10.0.0.9']]);
  const changes: string[][] = [];
  const errors: string[] = [];
  let clock = 500;
  const r = new DnsResolver({
    hostname: 'api.internal',
    intervalMs: 60_000,
    retryMs: 2_000,
    lookup: script.lookup,
    timers,
    now: () => clock,
    onChange: (a) => changes.push([...a]),
    onError: (e) => errors.push((e as Error).message),
  });
  await r.start();
  assert.equal(r.status.resolvedAt, 500);
  clock = 60_500;
  assert.equal(timers.fire(), 60_000);
  await flush();
  assert.deepEqual(r.addresses, ['10.0.0.1'], 'kept after a failure');
  assert.match((r.status.error as Error).message, /ESERVFAIL/);
  assert.equal(timers.fire(), 2_000, 'retried after retryMs');
  await flush();
  assert.deepEqual(r.addresses, ['10.0.0.1'], 'kept after an empty answer');
  assert.equal(timers.fire(), 2_000);
  await flush();
  assert.deepEqual(errors, ['ESERVFAIL', 'api.internal: no addresses']);
  assert.deepEqual(changes, [['10.0.0.1'], ['10.0.0.9']]);
  assert.equal(r.status.error, undefined);
  r.stop();
});

test('dns resolver: a first failure settles start() with an empty list, never rejects', async () => {
  const timers = new ManualTimers();
  const script = scripted([new Error('ENOTFOUND'), ['10.0.0.5']]);
  const changes: string[][] = [];
  const r = new DnsResolver({
    hostname: 'api.internal',
    intervalMs: 10_000,
    lookup: script.lookup,
    timers,
    onChange: (a) => changes.push([...a]),
    onError: () => {},
  });
  assert.deepEqual(await r.start(), []);
  assert.equal(timers.fire(), 5_000, 'retry defaults to min(interval, 5 s)');
  await flush();
  assert.deepEqual(changes, [['10.0.0.5']]);
  r.stop();
});

test('dns resolver: never two lookups at once; a stopped resolver ignores a late answer', async () => {
  const timers = new ManualTimers();
  let release!: (a: ResolvedAddress[]) => void;
  let calls = 0;
  const changes: string[][] = [];
  const r = new DnsResolver({
    hostname: 'slow.internal',
    intervalMs: 1_000,
    lookup: () => {
      calls++;
      return new Promise((res) => (release = res));
    },
    timers,
    onChange: (a) => changes.push([...a]),
  });
  const first = r.start();
  await flush();
  assert.equal(timers.pending, undefined, 'the next round waits for this one');
  release([{ address: '10.1.1.1', family: 4 }]);
  await first;
  timers.fire();
  await flush();
  assert.equal(calls, 2);
  r.stop();
  release([{ address: '10.1.1.2', family: 4 }]);
  await flush();
  assert.deepEqual(changes, [['10.1.1.1']], 'nothing after stop');
  assert.equal(timers.pending, undefined);
});

test('dns resolver: a listener that throws is reported and does not stop the refresh', async () => {
  const timers = new ManualTimers();
  const script = scripted([['10.0.0.1'], ['10.0.0.2']]);
  const errors: unknown[] = [];
  const r = new DnsResolver({
    hostname: 'api.internal',
    intervalMs: 1_000,
    lookup: script.lookup,
    timers,
    onChange: () => {
      throw new Error('listener bug');
    },
    onError: (e) => errors.push(e),
  });
  await r.start();
  assert.ok(timers.pending);
  timers.fire();
  await flush();
  assert.equal(errors.length, 2);
  assert.deepEqual(r.addresses, ['10.0.0.2']);
  r.stop();
});

test('dns resolver: resolves localhost with the system resolver', async () => {
  const changes: (readonly string[])[] = [];
  const r = new DnsResolver({ hostname: 'localhost', intervalMs: 60_000, onChange: (a) => changes.push(a) });
  const addresses = await r.start();
  r.stop();
  assert.ok(addresses.length > 0, 'localhost resolves');
  for (const a of addresses) assert.ok(a === '::1' || a.startsWith('127.'), a);
  assert.deepEqual(changes, [addresses]);
});

test('dns resolver: intervalMs must be positive', () => {
  assert.throws(() => new DnsResolver({ hostname: 'x', intervalMs: 0, onChange: () => {} }), /intervalMs/);
});
