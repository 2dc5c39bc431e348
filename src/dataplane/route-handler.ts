// What the exchange gives a route kind's handler (src/routes/types.ts) and how its answer is
// served: the per-request `RouteCall` (the client's body, service requests through
// service-fetch.ts, requests to this gateway's own routes), and the answer turned into a served
// response or one of the gateway's own answers.
import type { CallRecord, InternalRequest, InternalResponse, RouteAnswer, RouteCall } from '../routes/types.js';
import type { ServedResponse } from '../policies/types.js';
import type { Answer } from './respond.js';
import { serviceFetch, type FetchSource } from './service-fetch.js';

export function routeCall(
  source: Omit<FetchSource, 'calls'>,
  body: Buffer | null,
  dispatch: ((req: InternalRequest) => Promise<InternalResponse>) | undefined,
  internal: boolean,
  traceparent: string | undefined,
): RouteCall {
  const calls: CallRecord[] = [];
  const fetchSource: FetchSource = { ...source, calls };
  return {
    ctx: source.context(),
    body,
    fetch: (req) => serviceFetch(fetchSource, req),
    ...(dispatch === undefined ? {} : { dispatch }),
    signal: source.signal,
    internal,
    traceparent,
    calls,
  };
}

/** A handler's answer: a response to serve (through the response phases), or the gateway's answer. */
export function handlerAnswer(a: RouteAnswer, kind: string | undefined): { serve: ServedResponse } | Answer {
  if ('serve' in a) return a;
  if ('error' in a) return { kind: 'error', code: a.error, message: a.message, details: a.details, headers: a.headers };
  return { kind: 'verdict', verdict: a, by: kind };
}
