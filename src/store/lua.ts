// One Lua script per algorithm: each decision is one atomic EVALSHA, timed by Redis's own clock
// (TIME), and every key it writes gets a TTL. Each returns {allowed, remaining, resetMs, retryAfterMs}.
// Same arithmetic as memory.ts; keep them in step.
//
// ARGV[5], when given, is the time instead of TIME: only tests pass it (RedisStore's `clock`), to
// step through a window without waiting. A gateway never does: every instance must share one clock.

const NOW = `
local now = tonumber(ARGV[5])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

const WINDOW = `
local s = redis.call('HMGET', KEYS[1], 's', 'n')
local n = 0
if tonumber(s[1]) == start then n = tonumber(s[2]) end
local allowed = 0
if n + cost <= limit then
  n = n + cost
  allowed = 1
  redis.call('HSET', KEYS[1], 's', start, 'n', n)
  redis.call('PEXPIRE', KEYS[1], stop - now + 1000)
end
local reset = stop - now
local retry = 0
if allowed == 0 then retry = reset end
return {allowed, math.max(0, limit - n), reset, retry}
`;

export const FIXED_WINDOW = `${NOW}
local limit, win, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start = now - (now % win)
local stop = start + win
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
local y, m = civil(f(now / 86400000))
local start = days(y, m) * 86400000
if m == 12 then y, m = y + 1, 1 else m = m + 1 end
local stop = days(y, m) * 86400000
${WINDOW}`;

export const SLIDING_WINDOW = `${NOW}
local limit, win, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local w = math.floor(now / win)
local s = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local cw, c, p = tonumber(s[1]), tonumber(s[2]) or 0, tonumber(s[3]) or 0
if cw ~= w then
  if cw == w - 1 then p = c else p = 0 end
  c = 0
end
local elapsed = now - w * win
local used = p * (win - elapsed) / win + c
local allowed = 0
if used + cost <= limit then
  allowed = 1
  c = c + cost
  used = used + cost
  redis.call('HSET', KEYS[1], 'w', w, 'c', c, 'p', p)
  redis.call('PEXPIRE', KEYS[1], 2 * win)
end
local reset = win - elapsed
local retry = 0
if allowed == 0 then
  local room = limit - cost - c
  if cost > limit then retry = reset
  elseif room >= 0 then retry = math.max(1, win - room * win / p - elapsed)
  else retry = reset + win * (1 - (limit - cost) / c) end
end
return {allowed, math.max(0, math.floor(limit - used)), reset, math.ceil(retry)}
`;

export const TOKEN_BUCKET = `${NOW}
local rate, per, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local s = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens, ts = tonumber(s[1]), tonumber(s[2])
if tokens == nil then tokens, ts = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / per)
local allowed = 0
if tokens >= cost - 1e-9 then
  allowed = 1
  tokens = math.max(0, tokens - cost)
end
local fill = (burst - tokens) * per / rate
-- %.17g: tostring keeps 14 digits, and a bucket refilled to 0.99999999999999 refuses when it should admit.
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(fill) + 1000)
local retry = 0
if allowed == 0 then retry = math.ceil((math.min(cost, burst) - tokens) * per / rate) end
return {allowed, math.floor(tokens), math.ceil(fill), retry}
`;

export const LEAKY_BUCKET = `${NOW}
local rate, per, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local interval = per / rate
local tat = tonumber(redis.call('GET', KEYS[1])) or now
tat = math.max(tat, now)
local nxt = tat + interval * cost
local allowAt = nxt - burst * interval
local allowed = 0
local held = tat - now
local retry = 0
if allowAt <= now then
  allowed = 1
  held = nxt - now
  -- %.17g: tostring keeps 14 digits, 0.1 ms of an epoch-ms time, too coarse for fast buckets.
  redis.call('SET', KEYS[1], string.format('%.17g', nxt), 'PX', math.ceil(held) + 1000)
elseif cost > burst then retry = held
else retry = allowAt - now end
return {allowed, math.max(0, math.floor((burst * interval - held) / interval)), math.ceil(held), math.ceil(retry)}
`;
