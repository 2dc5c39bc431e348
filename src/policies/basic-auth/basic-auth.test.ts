import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitedScrypt } from './basic-auth.js';
import { hashPassword, parseScrypt } from '../../identity/secrets.js';

test('scrypt checks are bounded: 2 run, 128 wait, the rest are refused unchecked', async () => {
  const hash = parseScrypt(hashPassword('right', 1024))!;
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => limitedScrypt(i === 0 ? 'right' : `wrong-${i}`, hash)));
  assert.equal(results[0], true);
  assert.equal(results.filter((r) => r === false).length, 129);
  assert.equal(results.filter((r) => r === undefined).length, 70);
  // Once they are done, checks run again.
  assert.equal(await limitedScrypt('right', hash), true);
});
