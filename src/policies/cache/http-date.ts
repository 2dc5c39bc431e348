// HTTP dates as RFC 9110 §5.6.7 defines them, strictly: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT") and the two obsolete forms recipients must still read ("Sunday, 06-Nov-94 08:49:37 GMT",
// "Sun Nov  6 08:49:37 1994"). Anything else is not a date — an invalid Expires means "already
// expired" (RFC 9111 §5.3) — where Date.parse would guess.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const IMF = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** ms since the epoch, or undefined when `v` is absent or not an HTTP date. */
export function httpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  let m = IMF.exec(s);
  if (m !== null) return utc(Number(m[4]), m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  m = RFC850.exec(s);
  if (m !== null) {
    // A two-digit year more than 50 years in the future is in the past century (RFC 9110 §5.6.7).
    let year = 2000 + Number(m[4]);
    if (year > new Date().getUTCFullYear() + 50) year -= 100;
    return utc(year, m[3]!, Number(m[2]), m[5]!, m[6]!, m[7]!);
  }
  m = ASCTIME.exec(s);
  if (m !== null) return utc(Number(m[7]), m[2]!, Number(m[3]!.trim()), m[4]!, m[5]!, m[6]!);
  return undefined;
}

function utc(year: number, month: string, day: number, h: string, mi: string, se: string): number | undefined {
  const [hour, minute, second] = [Number(h), Number(mi), Number(se)];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const t = Date.UTC(year, MONTHS.indexOf(month), day, hour, minute, Math.min(second, 59));
  // 31 Feb and the like roll over in Date.UTC: not a date.
  return new Date(t).getUTCDate() === day ? t : undefined;
}
