// The stores' decision table, windows: fixed window, calendar month, sliding window. The same cases
// run against the memory store and the Redis Lua scripts, whose answers must then be identical
// (test/helpers/store-table.ts says how); the buckets are in store-contract-buckets.test.ts, a
// random walk over every algorithm in store-contract-walk.test.ts (issue 16, part 4).
import { B2001, DAY, HOUR, MIN, SEC, T0, cm, fw, no, ok, runTable, sharedRedis, sw, type Case } from './helpers/store-table.js';

const redis = await sharedRedis('contract');

const CASES: Case[] = [
  // ---- fixed window: a counter per window aligned to the epoch
  {
    name: 'fixed window: exactly the limit, one over, the wait is the window end, then a fresh window',
    base: T0,
    quota: 3,
    steps: [
      [10_000, fw('a', 3, MIN, 1), ok(2, 50_000)],
      [10_000, fw('a', 3, MIN, 1), ok(1, 50_000)],
      [20_000, fw('a', 3, MIN, 1), ok(0, 40_000)], // exactly at the limit
      [20_000, fw('a', 3, MIN, 1), no(0, 40_000, 40_000)], // one over
      [59_999, fw('a', 3, MIN, 1), no(0, 1, 1)], // the window's last millisecond
      [60_000, fw('a', 3, MIN, 1), ok(2, 60_000)], // the next window
    ],
  },
  {
    name: 'fixed window: cost > 1, a refusal counts nothing, cost 0 passes at the limit, cost = limit, cost > limit',
    base: T0,
    quota: 10,
    steps: [
      [0, fw('a', 10, MIN, 7), ok(3, 60_000)],
      [1_000, fw('a', 10, MIN, 4), no(3, 59_000, 59_000)],
      [1_000, fw('a', 10, MIN, 3), ok(0, 59_000)], // the refused 4 took nothing
      [2_000, fw('a', 10, MIN, 0), ok(0, 58_000)],
      [2_000, fw('a', 10, MIN, 1), no(0, 58_000, 58_000)],
      [2_000, fw('b', 10, MIN, 10), ok(0, 58_000)],
      [2_000, fw('c', 10, MIN, 11), no(10, 58_000, 58_000)], // can never pass; config refuses such a cost
    ],
  },
  {
    name: "fixed window: windows align to the epoch, not to a key's first call; keys count separately",
    base: T0,
    quota: 2,
    steps: [
      [2_500, fw('a', 2, 10 * SEC, 1), ok(1, 7_500)],
      [2_500, fw('b', 2, 10 * SEC, 1), ok(1, 7_500)],
      [9_000, fw('a', 2, 10 * SEC, 1), ok(0, 1_000)],
      [9_000, fw('a', 2, 10 * SEC, 1), no(0, 1_000, 1_000)],
      [9_000, fw('b', 2, 10 * SEC, 1), ok(0, 1_000)], // b is untouched by a's refusal
      [9_999, fw('c', 2, 10 * SEC, 2), ok(0, 1)],
      [10_000, fw('a', 2, 10 * SEC, 1), ok(1, 10_000)],
      [10_000, fw('c', 2, 10 * SEC, 1), ok(1, 10_000)],
    ],
  },

  {
    name: 'fixed window: a window that is not a whole number of ms (1000.5 ms): waits rounded up',
    base: B2001,
    quota: 1,
    steps: [
      [0, fw('a', 1, 1000.5, 1), ok(0, 1_001)], // 1000.5 ms to the window end
      [1, fw('a', 1, 1000.5, 1), no(0, 1_000, 1_000)], // 999.5
      [1_000, fw('a', 1, 1000.5, 1), no(0, 1, 1)], // 0.5: its last whole millisecond
      [1_001, fw('a', 1, 1000.5, 1), ok(0, 1_000)], // the window [1000.5, 2001)
      [2_001, fw('a', 1, 1000.5, 1), ok(0, 1_001)], // the window [2001, 3001.5)
    ],
  },
  {
    name: 'fixed window: the clock goes back (NTP step): the window does not, nothing is counted twice',
    base: T0,
    quota: 2,
    steps: [
      [60_000, fw('a', 2, MIN, 2), ok(0, 60_000)], // cost = limit fills the window [60 s, 120 s)
      // 1 s back, into the window before: still the later window's count, its end 61 s away.
      [59_000, fw('a', 2, MIN, 1), no(0, 61_000, 61_000)],
      [30_000, fw('a', 2, MIN, 1), no(0, 90_000, 90_000)],
      [59_000, fw('b', 2, MIN, 1), ok(1, 1_000)], // a key first seen after the step counts as usual
      [119_999, fw('a', 2, MIN, 1), no(0, 1, 1)],
      [120_000, fw('a', 2, MIN, 2), ok(0, 60_000)],
      [110_000, fw('a', 2, MIN, 0), ok(0, 70_000)], // back again: cost 0 reads the later window
      [110_000, fw('a', 2, MIN, 1), no(0, 70_000, 70_000)],
    ],
  },

  // ---- calendar month (UTC)
  {
    name: 'calendar month: December rolls over into January of the next year',
    base: Date.UTC(2025, 11, 31, 23),
    quota: 2, // 31 Dec 2025 23:00, one hour before 2026
    steps: [
      [0, cm('q', 2, 1), ok(1, HOUR)],
      [0, cm('q', 2, 1), ok(0, HOUR)],
      [1_000, cm('q', 2, 1), no(0, HOUR - 1_000, HOUR - 1_000)],
      [HOUR - 1, cm('q', 2, 1), no(0, 1, 1)], // 31 Dec 23:59:59.999
      [HOUR, cm('q', 2, 1), ok(1, 31 * DAY)], // 1 Jan 2026: January has 31 days
      [HOUR, cm('q', 2, 1), ok(0, 31 * DAY)],
      [HOUR, cm('q', 2, 1), no(0, 31 * DAY, 31 * DAY)],
    ],
  },
  {
    name: 'calendar month: a leap February ends after the 29th; cost > 1 and cost 0',
    base: Date.UTC(2024, 1, 29, 12),
    quota: 5, // 29 Feb 2024 noon
    steps: [
      [0, cm('q', 5, 5), ok(0, 12 * HOUR)],
      [0, cm('q', 5, 0), ok(0, 12 * HOUR)],
      [0, cm('q', 5, 1), no(0, 12 * HOUR, 12 * HOUR)],
      [12 * HOUR, cm('q', 5, 2), ok(3, 31 * DAY)], // 1 Mar 2024
    ],
  },
  {
    name: 'calendar month: February has 29 days in 2000 and 2024, 28 in 2026 and 2100 (Gregorian rules)',
    base: 0,
    quota: 1, // t is the epoch time itself
    steps: [
      [Date.UTC(2000, 1, 1), cm('y2000', 1, 1), ok(0, 29 * DAY)],
      [Date.UTC(2024, 1, 1), cm('y2024', 1, 1), ok(0, 29 * DAY)],
      [Date.UTC(2026, 1, 1), cm('y2026', 1, 1), ok(0, 28 * DAY)],
      [Date.UTC(2100, 1, 1), cm('y2100', 1, 1), ok(0, 28 * DAY)],
      [Date.UTC(2100, 1, 28, 23, 59, 59, 999), cm('y2100', 1, 1), no(0, 1, 1)],
      [Date.UTC(2100, 2, 1), cm('y2100', 1, 1), ok(0, 31 * DAY)],
    ],
  },
  {
    name: "calendar month: the clock goes back across the month's start: the quota does not start over",
    base: Date.UTC(2026, 0, 1),
    quota: 2, // 1 Jan 2026 00:00
    steps: [
      [1_000, cm('q', 2, 2), ok(0, 31 * DAY - 1_000)], // cost = limit
      [-2_000, cm('q', 2, 1), no(0, 31 * DAY + 2_000, 31 * DAY + 2_000)], // 31 Dec 2025 23:59:58: January's count
      [-2_000, cm('r', 2, 1), ok(1, 2_000)], // a key first seen then counts in December
      [31 * DAY, cm('q', 2, 1), ok(1, 28 * DAY)], // 1 Feb 2026
    ],
  },

  // ---- sliding window: used = previous × (share of it still inside the window) + current
  {
    name: 'sliding window: exactly the limit, one over; the previous window weighs in by its remaining share',
    base: T0,
    quota: 10,
    steps: [
      [0, sw('a', 10, MIN, 4), ok(6, 60_000)],
      [30_000, sw('a', 10, MIN, 6), ok(0, 30_000)], // exactly at the limit
      // Over within this window alone: 30 s to its end, then 10 × (1 − 9/10) of the next, when
      // 10 × 54/60 = 9 of this window's 10 still count.
      [30_000, sw('a', 10, MIN, 1), no(0, 30_000, 36_000)],
      [60_000, sw('a', 10, MIN, 1), no(0, 60_000, 6_000)], // the previous 10 weigh fully
      [65_999, sw('a', 10, MIN, 1), no(0, 54_001, 1)], // 10 × 54.001/60 = 9.00017 still count
      [66_000, sw('a', 10, MIN, 1), ok(0, 54_000)], // 10 × 54/60 = 9, + 1
      [90_000, sw('a', 10, MIN, 0), ok(4, 30_000)], // 10 × ½ + 1 = 6
      [90_000, sw('a', 10, MIN, 4), ok(0, 30_000)],
      [90_000, sw('a', 10, MIN, 1), no(0, 30_000, 6_000)], // at 96 s: 10 × 24/60 + 5 = 9
    ],
  },
  {
    name: 'sliding window: a quiet window forgets the one before; cost 0 reads the weighted count; cost > limit; keys separate',
    base: T0,
    quota: 4,
    steps: [
      [0, sw('a', 4, MIN, 4), ok(0, 60_000)],
      [0, sw('b', 4, MIN, 1), ok(3, 60_000)],
      [90_000, sw('a', 4, MIN, 2), ok(0, 30_000)], // 4 × ½ + 2 = 4
      [90_000, sw('a', 4, MIN, 1), no(0, 30_000, 15_000)], // at 105 s: 4 × ¼ + 2 = 3
      [100_000, sw('a', 4, MIN, 0), ok(0, 20_000)], // 4 × ⅓ + 2 = 3.33
      [110_000, sw('a', 4, MIN, 0), ok(1, 10_000)], // 4 × ⅙ + 2 = 2.67
      [110_000, sw('a', 4, MIN, 5), no(1, 10_000, 10_000)], // can never pass: wait for the window end
      [180_000, sw('a', 4, MIN, 4), ok(0, 60_000)], // window 3: window 1 is two back, window 2 was empty
      [180_000, sw('b', 4, MIN, 4), ok(0, 60_000)],
    ],
  },
  {
    name: 'sliding window: a wait that is not a whole millisecond is rounded up',
    base: T0,
    quota: 7,
    steps: [
      [0, sw('a', 7, MIN, 7), ok(0, 60_000)],
      // 7 × (60 000 − e)/60 000 + 1 ≤ 7 from e = 60 000/7 = 8 571.43 ms
      [60_000, sw('a', 7, MIN, 1), no(0, 60_000, 8_572)],
      [68_571, sw('a', 7, MIN, 1), no(0, 51_429, 1)], // 6.00005 still count
      [68_572, sw('a', 7, MIN, 1), ok(0, 51_428)], // 5.99993 + 1
    ],
  },

  {
    name: 'sliding window: cost = limit, against a full previous window and alone',
    base: T0,
    quota: 5,
    steps: [
      [0, sw('a', 5, MIN, 5), ok(0, 60_000)],
      [60_000, sw('a', 5, MIN, 5), no(0, 60_000, 60_000)], // the previous 5 weigh fully until the window ends
      [119_999, sw('a', 5, MIN, 5), no(4, 1, 1)], // 5 × 1/60 000 still count: room for 4, not 5
      [120_000, sw('a', 5, MIN, 5), ok(0, 60_000)], // the window before was empty (refusals count nothing)
    ],
  },
  {
    name: 'sliding window: a window that is not a whole number of ms (1000.5 ms): waits rounded up, at least 1 ms',
    base: B2001,
    quota: 2,
    steps: [
      [0, sw('a', 2, 1000.5, 2), ok(0, 1_001)], // 1000.5 ms to the window end
      // e = 0.5 ms into the next window: 2 × 1000/1000.5 = 1.999 count; 2 × (1000.5 − e)/1000.5 + 1 ≤ 2
      // from e = 500.25, 499.75 ms from now
      [1_001, sw('a', 2, 1000.5, 1), no(0, 1_000, 500)],
      [1_500, sw('a', 2, 1000.5, 1), no(0, 501, 1)], // e = 499.5: 0.75 ms to go
      [1_501, sw('a', 2, 1000.5, 1), ok(0, 500)], // 2 × 500/1000.5 = 0.9995, + 1
    ],
  },
  {
    name: 'sliding window: the clock goes back (NTP step): the window does not, the previous one counts in full',
    base: T0,
    quota: 10,
    steps: [
      [0, sw('a', 10, MIN, 6), ok(4, 60_000)],
      [60_000, sw('a', 10, MIN, 4), ok(0, 60_000)], // 6 × 1 + 4
      // 10 s back: still the later window, 70 s from its end; the previous 6 count in full until
      // 10 s into it, when 6 × 50/60 = 5 count and 1 more fits: 20 s from now.
      [50_000, sw('a', 10, MIN, 1), no(0, 70_000, 20_000)],
      [0, sw('a', 10, MIN, 1), no(0, 120_000, 70_000)], // a minute back
      [0, sw('b', 10, MIN, 1), ok(9, 60_000)], // a key first seen after the step counts as usual
      [69_999, sw('a', 10, MIN, 1), no(0, 50_001, 1)],
      [70_000, sw('a', 10, MIN, 1), ok(0, 50_000)], // 6 × 50/60 + 4 = 9, + 1
    ],
  },
];

runTable(CASES, redis);
