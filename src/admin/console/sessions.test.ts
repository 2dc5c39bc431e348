// Session lifetimes and the login throttle on a clock the test moves: idle and absolute expiry,
// the cap on live sessions, and the per-address failure window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ABSOLUTE_MS, IDLE_MS, SessionStore, csrfMatches, sessionCookie } from './sessions.js';
import { LoginThrottle, MAX_FAILURES, WINDOW_MS } from './login-throttle.js';

test('a session ends after 30 minutes unused, and use keeps it alive', () => {
  let now = 1_000_000;
  const store = new SessionStore(() => now);
  const { id, session } = store.create();
  now += IDLE_MS - 1;
  assert.equal(store.get(id), session, 'used just before the idle limit');
  now += IDLE_MS - 1;
  assert.equal(store.get(id), session, 'the use above restarted the idle clock');
  now += IDLE_MS + 1;
  assert.equal(store.get(id), undefined, 'idle for longer than the limit');
  assert.equal(store.size, 0, 'an expired session is forgotten');
});

test('a session ends 12 hours after it began, however much it is used', () => {
  let now = 5_000_000;
  const store = new SessionStore(() => now);
  const { id, session } = store.create();
  for (let t = 0; t < ABSOLUTE_MS; t += IDLE_MS / 2) {
    now = 5_000_000 + t;
    assert.equal(store.get(id), session);
  }
  assert.equal(store.expiresAt(session).getTime(), 5_000_000 + ABSOLUTE_MS);
  now = 5_000_000 + ABSOLUTE_MS + 1;
  assert.equal(store.get(id), undefined);
});

test('at most `max` sessions: a new one ends the oldest', () => {
  const store = new SessionStore(Date.now, IDLE_MS, ABSOLUTE_MS, 3);
  const ids = [1, 2, 3, 4].map(() => store.create().id);
  assert.equal(store.size, 3);
  assert.equal(store.get(ids[0]), undefined, 'the oldest went');
  for (const id of ids.slice(1)) assert.ok(store.get(id));
  store.clear();
  assert.equal(store.get(ids[3]), undefined);
});

test('cookie ids: random, 43 base64url characters, looked up only in that shape', () => {
  const store = new SessionStore();
  const a = store.create().id;
  const b = store.create().id;
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  assert.equal(store.get(a + 'x'), undefined);
  assert.equal(store.get(a.slice(1)), undefined);
  assert.equal(store.get(''), undefined);
  assert.equal(sessionCookie(`other=1; gatehouse_console=${a}; x=y`), a);
  assert.equal(sessionCookie('gatehouse_consolex=1'), undefined);
});

test('the CSRF value matches only itself', () => {
  const { session } = new SessionStore().create();
  assert.ok(csrfMatches(session.csrf, session));
  assert.ok(!csrfMatches(session.csrf + 'a', session));
  assert.ok(!csrfMatches('', session));
  assert.ok(!csrfMatches(undefined, session));
  assert.ok(!csrfMatches([session.csrf, session.csrf], session), 'a repeated header is refused');
});

test('login throttle: the 11th failure in a minute blocks that address until the minute ends', () => {
  let now = 0;
  const t = new LoginThrottle(() => now);
  for (let i = 0; i < MAX_FAILURES; i++) {
    assert.equal(t.blockedFor('10.0.0.1'), 0, `attempt ${i + 1}`);
    t.failed('10.0.0.1');
  }
  assert.equal(t.blockedFor('10.0.0.1'), WINDOW_MS / 1000);
  assert.equal(t.blockedFor('10.0.0.2'), 0, 'another address is not blocked');
  now = WINDOW_MS - 1500;
  assert.equal(t.blockedFor('10.0.0.1'), 2, 'Retry-After rounds up');
  now = WINDOW_MS;
  assert.equal(t.blockedFor('10.0.0.1'), 0, 'a new minute');
});
