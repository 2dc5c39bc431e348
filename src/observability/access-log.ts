// The access log: one JSON line per request in pino's line format, written by pino's asynchronous
// destination (sonic-boom), so a slow disk or pipe never stalls a request. A line is made only
// after the response is finished (DataPlane.completed), never while a request waits for it.
//
// `fields` picks what a line carries (compiled once into a list); `sample` keeps a share of
// ordinary requests, while errors (status >= 500 or a gateway error code) and slow requests
// (`slowThreshold`) are always written. `reopen()` (SIGUSR1) reopens the file after rotation.
//
// With workers, every worker appends its own lines to the same file: the file is opened with
// O_APPEND, so each write lands at the end whole; the primary forwards SIGUSR1 to the workers.
import { pino } from 'pino';
import type { GatehouseConfig } from '../config/schema.js';
import { parseDuration } from '../config/units.js';
import { ACCESS_LOG_FIELDS, type AccessLogField } from '../config/observability-schema.js';
import { LineBuffer } from './line-buffer.js';
import { jsonString } from './json-text.js';
import type { CallRecord, RequestRecord } from './request-record.js';

/** A batch of lines goes to the file at this size, or BATCH_MS after its first line. */
const BATCH_BYTES = 32 * 1024;
const BATCH_MS = 100;
const DEFAULT_FIELDS = ACCESS_LOG_FIELDS.filter((f) => f !== 'userAgent');

export interface AccessLogSettings {
  path: string | undefined;
  fields: readonly Exclude<AccessLogField, 'time'>[];
  sample: number;
  slowMs: number;
  /** Whether the line needs the User-Agent header (read only then). */
  userAgent: boolean;
}

export function accessLogSettings(cfg: GatehouseConfig['accessLog']): AccessLogSettings | undefined {
  if (cfg === false) return undefined;
  const o = typeof cfg === 'object' ? cfg : undefined;
  const chosen = o?.fields ?? DEFAULT_FIELDS;
  // Written in the canonical order whatever the config's order; `time` is pino's.
  const fields = ACCESS_LOG_FIELDS.filter((f): f is Exclude<AccessLogField, 'time'> => f !== 'time' && chosen.includes(f));
  return {
    path: o?.path,
    fields,
    sample: o?.sample ?? 1,
    slowMs: o?.slowThreshold !== undefined ? parseDuration(o.slowThreshold) : Infinity,
    userAgent: fields.includes('userAgent'),
  };
}

/** pino's destination (sonic-boom) in buffer mode. */
interface ByteDestination {
  /** -1 until the file is open. */
  fd: number;
  once(event: 'ready', listener: () => void): void;
  write(bytes: Buffer): boolean;
  flushSync(): void;
  reopen(): void;
  end(): void;
}

export class AccessLog {
  private readonly dest: ByteDestination;
  /** The chosen fields as indexes into ACCESS_LOG_FIELDS, in the order they are written. */
  private readonly codes: Uint8Array;
  /** Lines not yet handed to the file. */
  private readonly lines = new LineBuffer(BATCH_BYTES + 4096);
  private timer: NodeJS.Timeout | undefined;
  private readonly writePending = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lines.pos === 0) return;
    try {
      this.dest.write(this.lines.take());
    } catch {
      /* closed by a config change: the lines are lost */
    }
  };

  constructor(readonly settings: AccessLogSettings) {
    const path = settings.path;
    // pino's destination (sonic-boom), asynchronous. Lines are collected here and handed to it
    // in batches of BATCH_BYTES (or after BATCH_MS): a write(2) per request cost more than the
    // rest of the line, and sonic-boom re-measures its pending buffer on every write() call.
    // contentMode 'buffer': sonic-boom takes bytes (its typings know strings only).
    this.dest = pino.destination({
      dest: path ?? 1,
      sync: false,
      mkdir: path !== undefined,
      append: true,
      contentMode: 'buffer',
    }) as unknown as ByteDestination;
    this.codes = Uint8Array.from(settings.fields, (f) => ACCESS_LOG_FIELDS.indexOf(f));
  }

  /** Whether this request gets a line: errors and slow ones always, the rest by `sample`. */
  wanted(r: RequestRecord): boolean {
    const s = this.settings;
    if (s.sample >= 1) return true;
    if (r.status >= 500 || r.status === 0 || r.error !== undefined || r.durationMs >= s.slowMs) return true;
    return s.sample > 0 && Math.random() < s.sample;
  }

  /** Queues one line; lines reach the file in batches. */
  write(f: RequestRecord): void {
    this.lines.ascii(formatLine(f, this.codes));
    if (this.lines.pos >= BATCH_BYTES) this.writePending();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.writePending, BATCH_MS);
      this.timer.unref();
    }
  }

  /** Writes what is buffered now (on stop and when the log is replaced). */
  flush(): void {
    this.writePending();
    try {
      this.dest.flushSync();
    } catch {
      /* not yet open or already closed */
    }
  }

  reopen(): void {
    this.dest.reopen();
  }

  /** Writes what is buffered, then closes the file (a config change replaced this log, or exit). */
  end(): void {
    this.flush();
    if (this.settings.path === undefined) return;
    const dest = this.dest;
    if (dest.fd === -1) {
      // The file is not open yet (ended right after start, e.g. the listen failed): end it once
      // open. Until then pino's exit hook must not flush it synchronously: sonic-boom throws when
      // not ready, and the process would die with a stack trace.
      dest.flushSync = () => undefined;
      dest.once('ready', () => dest.end());
      return;
    }
    dest.end();
  }
}

/**
 * One line in pino's format: `{"time":"<ISO>",…}\n`, fields in ACCESS_LOG_FIELDS order, absent
 * (undefined) ones left out: the value JSON.stringify would give for the same record (strings
 * escaped to ASCII, json-text.ts; times rounded to the microsecond). Written by hand: measured
 * in-process, about 1 µs a line against 3.7 µs for JSON.stringify of the record (itself a third
 * of pino's generic serialiser).
 */
export function formatLine(f: RequestRecord, codes: Uint8Array): string {
  let s = '{"time":"' + isoTime() + '"';
  for (let i = 0; i < codes.length; i++) {
    switch (codes[i]) {
      // Values plain by construction are quoted without a check: request ids (a UUID, or a
      // client's matching [A-Za-z0-9._:@+/=-]), trace ids (hex), methods (tokens, llhttp's list),
      // route and service names (the config's name pattern), policy types and GW_ error codes.
      case F.requestId:
        s += ',"requestId":"' + f.requestId + '"';
        break;
      case F.traceId:
        if (f.traceId !== undefined) s += ',"traceId":"' + f.traceId + '"';
        break; // hex
      case F.clientIp: {
        const ip = f.clientIp ?? f.peerIp;
        if (ip !== undefined) s += ',"clientIp":' + jsonString(ip);
        break;
      }
      case F.consumer:
        if (f.consumer !== undefined) s += ',"consumer":' + jsonString(f.consumer);
        break;
      case F.method:
        s += ',"method":"' + f.method + '"';
        break;
      case F.protocol:
        s += ',"protocol":"HTTP/' + f.protocol + '"'; // "1.1", "2.0": node's version strings
        break;
      case F.host:
        if (f.host !== undefined) s += ',"host":' + jsonString(f.host);
        break;
      case F.path:
        s += ',"path":' + jsonString(f.path);
        break;
      case F.route:
        if (f.route !== undefined) s += ',"route":"' + f.route + '"';
        break;
      case F.service:
        if (f.service !== undefined) s += ',"service":"' + f.service + '"';
        break;
      case F.target:
        if (f.target !== undefined) s += ',"target":' + jsonString(f.target);
        break;
      case F.status:
        s += ',"status":' + f.status;
        break;
      case F.grpcStatus:
        // A gRPC call: the status its trailers (or the gateway's own trailers-only answer) carried.
        if (f.grpcStatus !== undefined) s += ',"grpcStatus":' + f.grpcStatus;
        break;
      case F.bytesIn:
        s += ',"bytesIn":' + f.bytesIn;
        break;
      case F.bytesOut:
        s += ',"bytesOut":' + f.bytesOut;
        break;
      case F.durationMs:
        s += ',"durationMs":' + millis(f.durationMs);
        break;
      case F.upstreamMs:
        if (f.upstreamMs !== undefined) s += ',"upstreamMs":' + millis(f.upstreamMs);
        break;
      case F.rejectedBy:
        if (f.rejectedBy !== undefined) s += ',"rejectedBy":"' + f.rejectedBy + '"';
        break;
      case F.shadowLimited:
        if (f.shadowLimited !== undefined) s += ',"shadowLimited":' + jsonString(f.shadowLimited);
        break;
      case F.error:
        if (f.error !== undefined) s += ',"error":"' + f.error + '"';
        break;
      case F.retries:
        s += ',"retries":' + f.retries;
        break;
      case F.cache:
        if (f.cache !== undefined) s += ',"cache":' + jsonString(f.cache);
        break;
      case F.userAgent:
        if (f.userAgent !== undefined) s += ',"userAgent":' + jsonString(f.userAgent);
        break;
      case F.aborted:
        s += f.aborted ? ',"aborted":true' : ',"aborted":false';
        break;
      case F.closeCode:
        if (f.closeCode !== undefined) s += ',"closeCode":' + f.closeCode;
        break;
      case F.calls:
        if (f.calls !== undefined) s += ',"calls":' + callsText(f.calls);
        break;
      case F.operation:
        // "query GetUser": the type is the gateway's word, the name the client's (escaped).
        if (f.operation !== undefined)
          s += ',"operation":' + jsonString(f.operation.name === undefined ? f.operation.type : f.operation.type + ' ' + f.operation.name);
        break;
    }
  }
  return s + '}\n';
}

/** A composite's service requests: names, services and outcomes are plain (config names, statuses, codes). */
function callsText(calls: readonly CallRecord[]): string {
  let s = '[';
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!;
    if (i > 0) s += ',';
    s += '{"name":"' + c.label + '","service":"' + c.service + '",';
    s += typeof c.outcome === 'number' ? '"status":' + c.outcome : '"failed":"' + c.outcome + '"';
    s += ',"ms":' + millis(c.ms) + '}';
  }
  return s + ']';
}

/** Field codes: indexes into ACCESS_LOG_FIELDS (checked by a test). */
export const enum F {
  time,
  requestId,
  traceId,
  clientIp,
  consumer,
  method,
  protocol,
  host,
  path,
  route,
  service,
  target,
  status,
  grpcStatus,
  bytesIn,
  bytesOut,
  durationMs,
  upstreamMs,
  rejectedBy,
  shadowLimited,
  error,
  retries,
  cache,
  userAgent,
  aborted,
  closeCode,
  calls,
  operation,
}

/**
 * Milliseconds rounded to the microsecond, as a JSON number ("12.345", "0.05", "3"), built from
 * integers: printing a double costs several times more.
 */
export function millis(ms: number): string {
  if (!(ms >= 0 && ms < 1e9)) return Number.isFinite(ms) ? String(Math.round(ms * 1000) / 1000) : 'null';
  const us = Math.round(ms * 1000);
  const whole = (us / 1000) | 0;
  let frac = us - whole * 1000;
  if (frac === 0) return String(whole);
  let digits = 3;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  const f = String(frac);
  return whole + (f.length === digits ? '.' : f.length === digits - 1 ? '.0' : '.00') + f;
}

// The formatted time is kept for the millisecond it names (under load many lines share one), and
// its text up to the second for the second: toISOString once a second, not once a millisecond.
let lastMs = Number.NaN;
let lastTime = '';
let secondStart = Number.NaN;
let secondText = '';

function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = isoTimeOf(now);
  }
  return lastTime;
}

/** `new Date(ms).toISOString()`, from the text of ms's second when that is the last one asked. */
export function isoTimeOf(ms: number): string {
  const inSecond = ms - secondStart;
  if (!(inSecond >= 0 && inSecond < 1000)) {
    const iso = new Date(ms).toISOString(); // …T22:10:28.123Z
    secondStart = ms - Number(iso.slice(-4, -1));
    secondText = iso.slice(0, -4);
    return iso;
  }
  return secondText + (inSecond < 10 ? '00' : inSecond < 100 ? '0' : '') + inSecond + 'Z';
}
