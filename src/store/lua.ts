// One Lua script per algorithm: each decision is one atomic EVALSHA, timed by Redis's own clock
// (TIME), and every key it writes gets a TTL. Each returns {allowed, remaining, resetMs, retryAfterMs}.
// Same arithmetic as memory.ts, in the same order of floating-point operations, so that the two
// stores answer identically (test/store-contract.test.ts); keep them in step. Waits are whole ms
// rounded up (a reply carries integers only, and a wait must never be shorter than the true one;
// a bucket's, after taking off the time half its 1e-9 unit of slack takes: see memory.ts).
// A clock that goes back never moves a key's state back (see memory.ts).
//
// ARGV[5], when given, is the time instead of TIME: only tests pass it (RedisStore's `clock`), to
// step through a window without waiting. A gateway never does: every instance must share one clock.
//
// Numbers written with string.format('%.17g'): tostring keeps 14 digits, too few to read back the
// double that was computed.

const NOW = `
local now = tonumber(ARGV[5])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// Needs limit, cost and bounds(t) -> start, stop of the window holding t. The key is written only
// when a request is admitted.
const WINDOW = `
local start, stop = bounds(now)
local s = redis.call('HMGET', KEYS[1], 's', 'n')
local ss = tonumber(s[1])
local n = 0
if ss ~= nil then
  -- the clock went back: keep counting in the later window
  if ss > start then start, stop = bounds(ss) end
  if ss == start then n = tonumber(s[2]) end
end
local allowed = 0
if n + cost <= limit then
  n = n + cost
  allowed = 1
  redis.call('HSET', KEYS[1], 's', string.format('%.17g', start), 'n', n)
  redis.call('PEXPIRE', KEYS[1], math.ceil(stop - now) + 1000)
end
local reset = math.ceil(stop - now)
local retry = 0
if allowed == 0 then retry = reset end
return {allowed, math.max(0, limit - n), reset, retry}
`;

export const FIXED_WINDOW = `${NOW}
local limit, win, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local function bounds(t)
  local b = math.floor(t / win) * win
  return b, b + win
end
${WINDOW}`;

// Civil-date arithmetic (days <-> year/month/day, proleptic Gregorian) for UTC month bounds.
export const CALENDAR_MONTH = `${NOW}
local limit, cost = tonumber(ARGV[1]), tonumber(ARGV[3])
local f = math.floor
local function civil(z)
  z = z + 719468
  local era = f(z / 146097)
  local doe = z - era * 146097
  local yoe = f((doe - f(doe / 1460) + f(doe / 36524) - f(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + f(yoe / 4) - f(yoe / 100))
  local mp = f((5 * doy + 2) / 153)
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m
end
local function days(y, m)
  if m <= 2 then y = y - 1 end
  local era = f(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = f((153 * mp + 2) / 5)
  return era * 146097 + yoe * 365 + f(yoe / 4) - f(yoe / 100) + doy - 719468
end
local function bounds(t)
  local y, m = civil(f(t / 86400000))
  local b = days(y, m) * 86400000
  if m == 12 then y, m = y + 1, 1 else m = m + 1 end
  return b, days(y, m) * 86400000
end
${WINDOW}`;

// w = the window, c = units in it, p = units in the one before, t = the time of the last admission
// (never moved back); written only when a request is admitted.
export const SLIDING_WINDOW = `${NOW}
local limit, win, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'w', 'c', 'p', 't')
local sw, last = tonumber(s[1]), tonumber(s[4])
-- a key written before issue 16 has no t: its window's start stands for it
if sw ~= nil and last == nil then last = sw * win end
-- the time the counts are weighed at: after the clock went back, time stands still at the last
-- admission until the clock is past it again
local at = now
if last ~= nil and last > now then at = last end
local w = math.floor(at / win)
local c, p = 0, 0
if sw == w then c, p = tonumber(s[2]), tonumber(s[3])
elseif sw == w - 1 then p = tonumber(s[2]) end
local elapsed = at - w * win
local used = p * (win - elapsed) / win + c
local allowed = 0
if used + cost <= limit then
  allowed = 1
  c = c + cost
  used = used + cost
  redis.call('HSET', KEYS[1], 'w', w, 'c', c, 'p', p, 't', string.format('%.17g', at))
  -- kept until the window after this one ends: from then on, neither count weighs in
  redis.call('PEXPIRE', KEYS[1], math.ceil((w + 2) * win - now))
end
local ahead = at - now
local reset = win - elapsed + ahead
local retry = 0
if allowed == 0 then
  local room = limit - cost - c
  if cost > limit then retry = reset
  elseif room >= 0 then retry = math.max(1, win * (p - room) / p - elapsed) + ahead
  else retry = reset + win * (c - limit + cost) / c end
end
return {allowed, math.max(0, math.floor(limit - used)), math.ceil(reset), math.ceil(retry)}
`;

// t = tokens, ts = when they were counted (never moved back).
export const TOKEN_BUCKET = `${NOW}
local rate, per, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens, ts = tonumber(s[1]), tonumber(s[2])
if tokens == nil or ts == nil then tokens, ts = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / per)
if ts < now then ts = now end
local allowed = 0
if cost - tokens <= 1e-9 then
  allowed = 1
  tokens = math.max(0, tokens - cost)
end
local ahead = ts - now
local fill = ahead + (burst - tokens) * per / rate
local eps = 5e-10 * per / rate
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(fill) + 1000)
local retry = 0
if allowed == 0 then retry = math.max(0, math.ceil(ahead + (math.min(cost, burst) - tokens) * per / rate - eps)) end
return {allowed, math.max(0, math.floor(tokens + 1e-9)), math.max(0, math.ceil(fill - eps)), retry}
`;

// The value is "<level> <ts>": units queued, and when that was measured (never moved back); written
// only when a request is admitted. A plain number is a theoretical arrival time written by the
// script before issue 16 (GCRA on the epoch, which lost one of a burst when per/rate is not a
// whole ms): it is read as the level it stands for.
export const LEAKY_BUCKET = `${NOW}
local rate, per, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local level, ts = 0, now
local v = redis.call('GET', KEYS[1])
if v then
  local l, t = string.match(v, '^(%S+) (%S+)$')
  if l then
    level, ts = tonumber(l), tonumber(t)
  elseif tonumber(v) then
    level = math.max(0, tonumber(v) - now) * rate / per
  end
end
if ts < now then
  level = math.max(0, level - (now - ts) * rate / per)
  ts = now
end
local allowed = 0
if level + cost - burst <= 1e-9 then
  allowed = 1
  level = level + cost
end
local ahead = ts - now
local held = ahead + level * per / rate
local eps = 5e-10 * per / rate
if allowed == 1 then
  redis.call('SET', KEYS[1], string.format('%.17g %.17g', level, ts), 'PX', math.ceil(held) + 1000)
end
local retry = 0
if allowed == 0 then
  if cost > burst then retry = held
  else retry = ahead + (level + cost - burst) * per / rate end
end
return {allowed, math.max(0, math.floor(burst - level + 1e-9)), math.max(0, math.ceil(held - eps)), math.max(0, math.ceil(retry - eps))}
`;
