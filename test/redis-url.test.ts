// The forms of a Redis store URL: what each parses to, the config errors (never quoting a
// password), and the label metrics and logs show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRedisUrl } from '../src/config/redis-url.js';
import { storeLabel } from '../src/store/label.js';
import { validateConfig } from '../src/validation/validate.js';
import { redisClient } from '../src/store/redis-client.js';
import { Cluster, Redis } from 'ioredis';

test('redis:// and rediss:// are one server, read by ioredis as before', () => {
  assert.deepEqual(parseRedisUrl('redis://:p@h:6380/2'), { mode: 'single', url: 'redis://:p@h:6380/2' });
  assert.deepEqual(parseRedisUrl('rediss://h'), { mode: 'single', url: 'rediss://h' });
});

test('redis+sentinel://: sentinels (port 26379 by default), the master name, a database, the credentials', () => {
  assert.deepEqual(parseRedisUrl('redis+sentinel://app:pa%40ss@s1,s2:26380,[::1]:5000/mymaster/3'), {
    mode: 'sentinel',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
      { host: '::1', port: 5000 },
    ],
    name: 'mymaster',
    db: 3,
    username: 'app',
    password: 'pa@ss',
    label: 'redis+sentinel://s1:26379,s2:26380,[::1]:5000/mymaster/3',
  });
  assert.deepEqual(parseRedisUrl('redis+sentinel://s1/m'), {
    mode: 'sentinel',
    sentinels: [{ host: 's1', port: 26379 }],
    name: 'm',
    db: 0,
    label: 'redis+sentinel://s1:26379/m',
  });
});

test('redis+cluster://: seed nodes (port 6379 by default) and the credentials', () => {
  assert.deepEqual(parseRedisUrl('REDIS+CLUSTER://:sec:ret@n1:7000,n2'), {
    mode: 'cluster',
    nodes: [
      { host: 'n1', port: 7000 },
      { host: 'n2', port: 6379 },
    ],
    password: 'sec:ret',
    label: 'redis+cluster://n1:7000,n2:6379',
  });
});

test('bad URLs are config errors that never quote the password', () => {
  const bad: [string, RegExp][] = [
    ['mysql://u:s3cret@h', /a Redis URL is one of/],
    ['redis+cluster://:s3cret@n1:7000/0', /no path/],
    ['redis+cluster://:s3cret@n1:99999', /port of host 1 of 1 is out of range/],
    ['redis+cluster://:s3cret@n1,,n2', /host 2 of 3 is not host\[:port\]/],
    ['redis+cluster://:s3cret@', /no host/],
    ['redis+cluster://s3cret:x', /host 1 of 1/], // the "@" forgotten: the password is where a host goes
    ['redis+cluster://:s3c@ret@n1', /more than one "@"/],
    ['redis+cluster://:s3cret@n1?tls=1', /"\?" or "#"/],
    ['redis+cluster://:s3cret%zz@n1', /percent-encoding/],
    ['redis+sentinel://:s3cret@s1', /master name/],
    ['redis+sentinel://:s3cret@s1/m/x', /only a database number/],
  ];
  for (const [url, message] of bad) {
    const r = parseRedisUrl(url);
    assert.ok('error' in r, url);
    assert.match(r.error, message, url);
    assert.doesNotMatch(r.error, /s3c/, url);
    const v = validateConfig({ store: { type: 'redis', url } });
    assert.equal(v.ok, false, url);
    const text = JSON.stringify(v);
    assert.ok(text.includes('store.url'), text);
    assert.doesNotMatch(text, /s3c/, url);
    // A cache policy's own url is checked the same way.
    const c = validateConfig({
      services: { s: { targets: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [{ name: 'r', match: { paths: ['/'] }, service: 's', policies: [{ type: 'cache', store: 'redis', url }] }],
    });
    assert.equal(c.ok, false, url);
    assert.doesNotMatch(JSON.stringify(c), /s3c/, url);
  }
  assert.equal(validateConfig({ store: { type: 'redis', url: 'redis+cluster://:s3cret@n1:7000,n2:7001' } }).ok, true);
  assert.equal(validateConfig({ store: { type: 'redis', url: 'redis+sentinel://:s3cret@s1,s2/m/1' } }).ok, true);
});

test('the label of a Sentinel or Cluster store: its hosts, never its credentials', () => {
  assert.equal(storeLabel({ url: 'redis+cluster://:s3cret@n1:7000,n2:7001' }), 'redis+cluster://n1:7000,n2:7001');
  assert.equal(storeLabel({ url: 'redis+sentinel://u:s3cret@s1/m' }), 'redis+sentinel://s1:26379/m');
  assert.equal(storeLabel({ url: 'redis+cluster://:s3c@ret@n1' }), 'redis');
});

test('the client of each form', () => {
  const opts = { lazyConnect: true };
  const single = redisClient('redis://127.0.0.1:1/2', opts);
  assert.ok(single instanceof Redis);
  assert.equal(single.options.db, 2);
  const viaSentinel = redisClient('redis+sentinel://:pw@127.0.0.1:1/m/4', opts) as Redis;
  assert.ok(viaSentinel instanceof Redis);
  assert.deepEqual(
    [viaSentinel.options.sentinels, viaSentinel.options.name, viaSentinel.options.db, viaSentinel.options.password],
    [[{ host: '127.0.0.1', port: 1 }], 'm', 4, 'pw'],
  );
  assert.equal(viaSentinel.options.sentinelPassword, undefined, 'sentinels are asked without the credentials');
  const cluster = redisClient('redis+cluster://u:pw@127.0.0.1:1,127.0.0.1:2', opts);
  assert.ok(cluster instanceof Cluster);
  assert.deepEqual([cluster.options.redisOptions?.username, cluster.options.redisOptions?.password], ['u', 'pw']);
  assert.throws(() => redisClient('redis+cluster://', opts), /store url: redis\+cluster:\/\/ URL: no host/);
  for (const c of [single, viaSentinel, cluster]) c.disconnect();
});
