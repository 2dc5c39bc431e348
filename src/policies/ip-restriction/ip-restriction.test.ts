import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipRestrictionPolicy } from './ip-restriction.js';
import { testContext, testEnv } from '../../../test/helpers/policy-context.js';

function make(cfg: Record<string, unknown>) {
  return ipRestrictionPolicy.create(ipRestrictionPolicy.schema.parse({ type: 'ip-restriction', ...cfg }), testEnv());
}
const code = (p: ReturnType<typeof make>, ip: string) => (p.access!(testContext({ clientIp: ip })) as { code?: string } | undefined)?.code;

test('allow list: only listed IPv4 and IPv6 addresses and CIDRs pass', () => {
  const p = make({ allow: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1'] });
  assert.equal(code(p, '10.1.2.3'), undefined);
  assert.equal(code(p, '192.168.1.7'), undefined);
  assert.equal(code(p, '2001:db8:1::5'), undefined);
  assert.equal(code(p, '::1'), undefined);
  assert.equal(code(p, '192.168.1.8'), 'GW_IP_FORBIDDEN');
  assert.equal(code(p, '11.0.0.1'), 'GW_IP_FORBIDDEN');
  assert.equal(code(p, '2001:db9::1'), 'GW_IP_FORBIDDEN');
});

test('deny wins over allow; deny-only lets everyone else through', () => {
  const both = make({ allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] });
  assert.equal(code(both, '10.1.0.1'), undefined);
  assert.equal(code(both, '10.9.3.4'), 'GW_IP_FORBIDDEN');
  const deny = make({ deny: ['203.0.113.0/24', 'fe80::/10'] });
  assert.equal(code(deny, '203.0.113.9'), 'GW_IP_FORBIDDEN');
  assert.equal(code(deny, 'fe80::1'), 'GW_IP_FORBIDDEN');
  assert.equal(code(deny, '198.51.100.1'), undefined);
  assert.equal(code(deny, '2001:db8::1'), undefined);
});

test('an unusable client address is refused', () => {
  assert.equal(code(make({ deny: ['203.0.113.0/24'] }), ''), 'GW_IP_FORBIDDEN');
});

test('the answer is 403 with the configured message', () => {
  const v = make({ deny: ['1.2.3.4'], message: 'Not from there.' }).access!(testContext({ clientIp: '1.2.3.4' }));
  assert.deepEqual(v, { status: 403, code: 'GW_IP_FORBIDDEN', message: 'Not from there.' });
});

test('schema: bad CIDRs and empty lists are refused', () => {
  assert.equal(ipRestrictionPolicy.schema.safeParse({ type: 'ip-restriction', allow: ['10.0.0.0/33'] }).success, false);
  assert.equal(ipRestrictionPolicy.schema.safeParse({ type: 'ip-restriction', deny: ['not-an-ip'] }).success, false);
  assert.equal(ipRestrictionPolicy.schema.safeParse({ type: 'ip-restriction' }).success, false);
});
