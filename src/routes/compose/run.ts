// Runs a composite's calls: each as soon as the calls it reads have answered (so independent calls
// run in parallel, and the composite takes as long as its slowest chain, not the sum), forEach
// calls once per element, all within the composite's deadline and its budget of requests. A
// required call that fails ends the composite at once (the others are abandoned); an optional one
// is left out, and so is every call that needs it.
import { isJsonType } from '../../policies/transform/json-text.js';
import type { CancelSignal, RouteCall, ServiceResult } from '../types.js';
import { Canceller } from '../cancel.js';
import type { HeaderList } from '../../policies/types.js';
import { asText, type Scope } from '../../policies/transform/template.js';
import { MISSING_SEGMENT, type CompiledCall, type CompiledCompose } from './compile.js';
import { hasDotSegment, MAX_JSON_DEPTH, nestedDeeper, validHeaderValue } from './guards.js';

/** What `{{calls.<name>…}}` reads, and what a call gives the answer. */
export interface CallResult {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export type Outcome =
  { ok: true; result: CallResult } | { ok: false; reason: string; timeout: boolean; fanOut?: boolean; status?: number | undefined };

export interface RunResult {
  outcomes: Map<string, Outcome>;
  /** The first required call that failed, if any. */
  failedRequired: CompiledCall | undefined;
  /** The client went away. */
  cancelled: boolean;
}

export function runCalls(c: CompiledCompose, call: RouteCall, clientBody: unknown): Promise<RunResult> {
  const outcomes = new Map<string, Outcome>();
  const results: Record<string, CallResult> = Object.create(null) as Record<string, CallResult>;
  const scope: Scope = { body: clientBody, calls: results };
  const stop = new Canceller();
  const budget = { left: c.maxCalls };
  const started = new Set<string>();
  return new Promise<RunResult>((resolve) => {
    let finished = false;
    let failedRequired: CompiledCall | undefined;
    const finish = (why: 'done' | 'deadline' | 'failed' | 'cancelled'): void => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      removeClientGone();
      stop.cancel(); // requests still in flight are abandoned
      for (const cc of c.calls) {
        if (outcomes.has(cc.name)) continue;
        const timeout = why === 'deadline';
        outcomes.set(cc.name, { ok: false, timeout, reason: timeout ? 'the composite’s deadline passed' : 'not run: the composite ended' });
        if (timeout && cc.required && failedRequired === undefined) failedRequired = cc;
      }
      resolve({ outcomes, failedRequired, cancelled: why === 'cancelled' });
    };
    let removeClientGone = (): void => {};
    const deadline = setTimeout(() => finish('deadline'), c.timeoutMs);
    if (call.signal.cancelled) return finish('cancelled');
    removeClientGone = call.signal.onCancel(() => finish('cancelled'));

    const settle = (cc: CompiledCall, o: Outcome): void => {
      if (finished) return;
      outcomes.set(cc.name, o);
      if (o.ok) results[cc.name] = o.result;
      else if (cc.required) {
        failedRequired = cc;
        return finish('failed');
      }
      if (outcomes.size === c.calls.length) return finish('done');
      launchReady();
    };
    const launchReady = (): void => {
      for (const cc of c.calls) {
        if (finished) return;
        if (started.has(cc.name) || !cc.deps.every((d) => outcomes.has(d))) continue;
        started.add(cc.name);
        const failedDep = cc.deps.find((d) => !outcomes.get(d)!.ok);
        if (failedDep !== undefined) settle(cc, { ok: false, timeout: false, reason: `it needs "${failedDep}", which failed` });
        else
          void runCall(c, cc, call, scope, budget, stop).then(
            (o) => settle(cc, o),
            (err: unknown) => settle(cc, { ok: false, timeout: false, reason: `failed: ${(err as Error).message}` }),
          );
      }
    };
    launchReady();
  });
}

async function runCall(
  c: CompiledCompose,
  cc: CompiledCall,
  call: RouteCall,
  scope: Scope,
  budget: { left: number },
  stop: CancelSignal,
): Promise<Outcome> {
  if (cc.forEach === undefined) {
    if (--budget.left < 0) return { ok: false, timeout: false, fanOut: true, reason: 'the composite’s maxCalls was reached' };
    return fetchOne(c, cc, call, scope, stop);
  }
  const list = cc.forEach(call.ctx, scope);
  const items = list === undefined || list === null ? [] : list;
  if (!Array.isArray(items)) return { ok: false, timeout: false, reason: 'its forEach value is not a list' };
  if (items.length > cc.maxFanOut)
    return { ok: false, timeout: false, fanOut: true, reason: `its forEach list has ${items.length} elements (maxFanOut ${cc.maxFanOut})` };
  budget.left -= items.length;
  if (budget.left < 0) return { ok: false, timeout: false, fanOut: true, reason: 'the composite’s maxCalls was reached' };
  // One element failing fails the call: the others are abandoned.
  const own = new Canceller();
  const removeStop = stop.onCancel(() => own.cancel());
  try {
    const answers = await Promise.all(
      items.map(async (item: unknown, index) => {
        const o = await fetchOne(c, cc, call, { ...scope, item, index }, own);
        if (!o.ok) {
          own.cancel();
          throw Object.assign(new Error(o.reason), { outcome: o });
        }
        return o.result;
      }),
    );
    // The answers' bodies, in the list's order (shaped and flattened when the answer is built).
    return { ok: true, result: { status: answers[0]?.status ?? 200, headers: {}, body: answers.map((a) => a.body) } };
  } catch (err) {
    const o = (err as { outcome?: Outcome }).outcome;
    if (o !== undefined && !o.ok) return { ...o, reason: `one of its forEach requests failed: ${o.reason}` };
    throw err;
  } finally {
    removeStop();
  }
}

async function fetchOne(c: CompiledCompose, cc: CompiledCall, call: RouteCall, scope: Scope, signal: CancelSignal): Promise<Outcome> {
  const ctx = call.ctx;
  let path = asText(cc.path(ctx, scope));
  const params = new URLSearchParams();
  const q = path.indexOf('?');
  if (q >= 0) {
    // After the "?" a missing value is an empty one, as it always was.
    for (const [k, v] of new URLSearchParams(path.slice(q + 1).replaceAll(MISSING_SEGMENT, ''))) params.append(k, v);
    path = path.slice(0, q);
  }
  if (path.includes(MISSING_SEGMENT)) return { ok: false, timeout: false, reason: 'a value of its path is missing or empty' };
  if (hasDotSegment(path)) return { ok: false, timeout: false, reason: 'its path would have a "." or ".." segment' };
  for (const [k, v] of cc.query) {
    const value = v(ctx, scope);
    if (value !== undefined && value !== null) params.append(k, asText(value));
  }
  const headers: HeaderList = [];
  for (const [k, v] of cc.headers) {
    const value = v(ctx, scope);
    if (value === undefined || value === null) continue;
    const text = asText(value);
    // A value no field can carry (CR, LF, other controls, beyond Latin-1) is left out, as a missing one.
    if (text !== '' && validHeaderValue(text)) headers.push(k, text);
  }
  // The answer is parsed here: a coded one (gzip…) could not be. Some services code without being asked.
  headers.push('accept-encoding', 'identity');
  let body: Buffer | null = null;
  if (cc.body !== undefined) {
    body = Buffer.from(JSON.stringify(cc.body(ctx, scope) ?? null));
    if (!headers.some((h, i) => i % 2 === 0 && h === 'content-type')) headers.push('content-type', 'application/json'); // the call's own wins
  }
  const r = await call.fetch({
    service: cc.service,
    label: cc.name,
    method: cc.method,
    path,
    query: params.toString(),
    headers,
    body,
    timeoutMs: cc.timeoutMs,
    maxBodyBytes: c.maxBodyBytes,
    signal,
  });
  return outcomeOf(cc, r);
}

function outcomeOf(cc: CompiledCall, r: ServiceResult): Outcome {
  if (!r.ok) {
    const f = r.failure;
    if (f.kind === 'timeout') return { ok: false, timeout: true, reason: 'it did not answer in time' };
    if (f.kind === 'too-large') return { ok: false, timeout: false, reason: 'its answer is larger than maxBody' };
    if (f.kind === 'cancelled') return { ok: false, timeout: false, reason: 'cancelled' };
    return { ok: false, timeout: f.code === 'GW_UPSTREAM_TIMEOUT', reason: `it could not be reached (${f.code})` };
  }
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < r.headers.length; i += 2) {
    const k = r.headers[i]!.toLowerCase();
    headers[k] = headers[k] === undefined ? r.headers[i + 1]! : `${headers[k]}, ${r.headers[i + 1]!}`;
  }
  if (r.status < 200 || r.status > 299) return { ok: false, timeout: false, status: r.status, reason: `it answered ${r.status}` };
  const type = headers['content-type'] ?? '';
  const coding = headers['content-encoding'];
  if (r.body.length > 0 && coding !== undefined && coding.trim().toLowerCase() !== 'identity')
    return { ok: false, timeout: false, status: r.status, reason: `its answer is coded (${coding}), though the call asked for identity` };
  let body: unknown = null;
  if (r.body.length > 0) {
    if (isJsonType(type)) {
      try {
        body = JSON.parse(r.body.toString('utf8')) as unknown;
      } catch {
        return { ok: false, timeout: false, status: r.status, reason: 'its answer is not valid JSON' };
      }
      if (nestedDeeper(body))
        return { ok: false, timeout: false, status: r.status, reason: `its answer nests deeper than ${MAX_JSON_DEPTH} levels` };
    } else if (cc.nonJson === 'string') body = r.body.toString('utf8');
    else return { ok: false, timeout: false, status: r.status, reason: `its answer is not JSON (${type || 'no Content-Type'})` };
  }
  return { ok: true, result: { status: r.status, headers, body } };
}
