// A composite's answer from its calls' outcomes: each call's body shaped (extract, pick, remove,
// rename), grouped under its key or merged into one object, the failed optional calls listed
// (the answer is then partial: `Gatehouse-Partial: true`), and an optional JSONata reshape over
// the result. A required call that failed is the answer instead: 502 (504 for a timeout) naming it.
import type { RouteAnswer } from '../types.js';
import type { RequestContext } from '../../policies/types.js';
import type { Logger } from '../../observability/logger.js';
import { reshapeFailure, type Reshape } from '../../policies/transform/reshape.js';
import type { CompiledCompose } from './compile.js';
import type { RunResult } from './run.js';

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

export async function composeAnswer(
  c: CompiledCompose,
  run: RunResult,
  ctx: RequestContext,
  reshape: Reshape | undefined,
  log: Logger,
): Promise<RouteAnswer> {
  const failed = run.failedRequired;
  if (failed !== undefined) {
    const o = run.outcomes.get(failed.name)!;
    const reason = o.ok ? '' : o.reason;
    const details = {
      call: failed.name,
      service: failed.service,
      reason,
      ...(!o.ok && o.status !== undefined ? { status: o.status } : {}),
    };
    if (!o.ok && o.timeout) return { error: 'GW_COMPOSE_TIMEOUT', message: `The call "${failed.name}" did not answer in time.`, details };
    if (!o.ok && o.fanOut === true)
      return { error: 'GW_COMPOSE_FAN_OUT', message: `The call "${failed.name}" would make too many requests: ${reason}.`, details };
    return { error: 'GW_COMPOSE_CALL_FAILED', message: `The call "${failed.name}" failed: ${reason}.`, details };
  }
  const doc: Record<string, unknown> = {};
  const calls: Record<string, unknown> = {};
  const failedNames: string[] = [];
  for (const cc of c.calls) {
    const o = run.outcomes.get(cc.name);
    if (o === undefined || !o.ok) {
      failedNames.push(cc.name);
      continue;
    }
    const raw = o.result.body;
    let body: unknown;
    if (cc.forEach === undefined) body = cc.shape(raw);
    else {
      const each = (raw as unknown[]).map((b) => cc.shape(b));
      body = cc.flatten ? each.flatMap((b) => (Array.isArray(b) ? (b as unknown[]) : [b])) : each;
    }
    calls[cc.name] = { status: o.result.status, body };
    if (cc.hidden) continue;
    if (c.output === 'merge' && cc.key === cc.name && isObject(body)) {
      for (const k of Object.keys(body)) if (!FORBIDDEN.has(k)) doc[k] = body[k];
    } else doc[cc.key] = body;
  }
  const partial = failedNames.length > 0;
  if (partial && c.partialField !== false) doc[c.partialField] = failedNames;
  let result: unknown = doc;
  if (reshape !== undefined) {
    try {
      result = await reshape(doc, { calls, failed: failedNames, request: requestBinding(ctx) });
    } catch (err) {
      // The client learns the failure's code; the message (which may quote the data: reshape.ts) goes to the log.
      log.warn({ requestId: ctx.requestId, route: ctx.routeName, reason: reshapeFailure(err) }, 'composite reshape failed');
      return { error: 'GW_UPSTREAM_BODY_INVALID', message: `The composite's reshape failed: ${reshapeFailure(err, false)}.` };
    }
  }
  const headers = ['content-type', 'application/json'];
  if (partial) headers.push('gatehouse-partial', 'true');
  return { serve: { status: c.status, headers, body: Buffer.from(JSON.stringify(result ?? null)) } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What the reshape sees of the request as $request (never its headers: they may hold credentials). */
function requestBinding(ctx: RequestContext): Record<string, unknown> {
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(ctx.query)) if (!Object.hasOwn(query, k) && !FORBIDDEN.has(k)) query[k] = v;
  const id = ctx.identity;
  return {
    method: ctx.method,
    path: ctx.path,
    params: { ...ctx.params },
    query,
    consumer: id === undefined ? null : { id: id.consumerId, username: id.username, groups: [...id.groups], plan: id.plan },
  };
}
