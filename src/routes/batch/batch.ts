// The `batch` route kind: the client POSTs a JSON list of requests to this gateway's own routes;
// each runs through its own route and policies (RouteCall.dispatch: the data plane's whole
// lifecycle, as the batch's client), up to `concurrency` at once, and the answer is the list of
// their responses in order. A malformed batch is refused whole before anything runs (items.ts);
// what happens to one request once it runs — 401, 404, a service's 500, a body too large, the
// batch's time running out — is that request's entry, and the others are answered as usual.
import type { ErrorCode } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { BatchSchema, type BatchConfig } from '../../config/batch-schema.js';
import { parseDuration, parseSize } from '../../config/units.js';
import { InternalDispatchError } from '../dispatch-error.js';
import { Canceller, type CancelSignal } from '../cancel.js';
import type { InternalRequest, InternalResponse, RouteAnswer, RouteCall, RouteHandler, RouteKindDefinition } from '../types.js';
import { answerBody, errorEntry, inheritedHeaders, itemRequest, parseBatch, responseEntry, type BatchItem } from './items.js';
import type { HeaderList } from '../../policies/types.js';
import { crossOrigin, exposes, needsPreflight, preflightAllows, type CrossOrigin } from './cors.js';

const JSON_TYPE = /^application\/json\s*(;|$)/i;

type Dispatch = (req: InternalRequest) => Promise<InternalResponse>;

/** Why a batch stopped before all its requests were answered. */
type Stop = 'timeout' | 'gone';

export class BatchHandler implements RouteHandler {
  readonly maxBodyBytes: number;
  private readonly maxRequests: number;
  private readonly concurrency: number;
  private readonly maxResponseBody: number;
  private readonly timeoutMs: number;

  constructor(
    config: BatchConfig,
    private readonly log: Logger,
    private readonly routeName: string,
  ) {
    this.maxBodyBytes = parseSize(config.maxBody);
    this.maxRequests = config.maxRequests;
    this.concurrency = config.concurrency;
    this.maxResponseBody = parseSize(config.maxResponseBody);
    this.timeoutMs = parseDuration(config.timeout);
  }

  async handle(call: RouteCall): Promise<RouteAnswer> {
    const req = call.ctx.req;
    // A batch inside a batch: each level would multiply the work one request costs.
    if (call.internal) return { error: 'GW_BATCH_NESTED' };
    if (call.ctx.method !== 'POST') return { error: 'GW_METHOD_NOT_ALLOWED', headers: { allow: 'POST' } };
    if (!JSON_TYPE.test(req.headers['content-type'] ?? ''))
      return { error: 'GW_BATCH_INVALID', message: 'A batch is sent with Content-Type: application/json.' };
    // Each request is routed by the batch's Host; without one (HTTP/1.0) undici would invent its
    // own ("gatehouse.internal"), which the routes and the services would then see.
    if (req.headers.host === undefined && (req.headers as Record<string, unknown>)[':authority'] === undefined)
      return { error: 'GW_BATCH_INVALID', message: 'A batch is sent with a Host header: its requests are routed by it.' };
    if (call.dispatch === undefined) return { error: 'GW_INTERNAL', message: 'Batches are not served here.' };
    const parsed = parseBatch(call.body, this.maxRequests);
    if (!parsed.ok) return { error: parsed.code, message: parsed.message, details: parsed.details };
    const entries = await this.run(call, (r) => call.dispatch!(r), parsed.items);
    return {
      serve: {
        status: 200,
        headers: ['content-type', 'application/json', 'cache-control', 'no-store'],
        body: answerBody(entries),
      },
    };
  }

  /** Runs the requests, `concurrency` at a time in list order, until done, the timeout, or the client leaves. */
  private async run(call: RouteCall, dispatch: Dispatch, items: BatchItem[]): Promise<string[]> {
    const inherited = withParent(inheritedHeaders(call.ctx.req), call.traceparent);
    const cross = crossOrigin(call.ctx.req);
    const entries: (string | undefined)[] = new Array<string | undefined>(items.length);
    const stop = new Canceller();
    let why: Stop | undefined;
    const halt = (reason: Stop) => {
      why ??= reason;
      stop.cancel();
    };
    if (call.signal.cancelled) halt('gone');
    const offGone = call.signal.onCancel(() => halt('gone'));
    const timer = this.timeoutMs > 0 ? setTimeout(() => halt('timeout'), this.timeoutMs) : undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!stop.cancelled && next < items.length) {
        const i = next++;
        entries[i] = await this.one(dispatch, items[i]!, inherited, cross, `${call.ctx.requestId}.${i}`, stop, () => why);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
    } finally {
      clearTimeout(timer);
      offGone();
    }
    return Array.from(entries, (e) => e ?? stoppedEntry(why, false)); // (map would skip the holes)
  }

  private async one(
    dispatch: Dispatch,
    item: BatchItem,
    inherited: HeaderList,
    cross: CrossOrigin | undefined,
    requestId: string,
    signal: CancelSignal,
    why: () => Stop | undefined,
  ): Promise<string> {
    const req: InternalRequest = {
      ...itemRequest(item, inherited, requestId),
      maxBodyBytes: this.maxResponseBody,
      signal,
    };
    try {
      // A request a browser would preflight gets its preflight first (cors.ts).
      const ask = cross === undefined ? undefined : needsPreflight(req.method, req.headers);
      if (ask !== undefined && !(await this.preflight(dispatch, req, cross!, ask, signal)))
        return errorEntry('GW_CORS_FORBIDDEN', CORS_PREFLIGHT);
      const res = await dispatch(req);
      // What the browser would hide from the page is not put in the answer it reads (cors.ts).
      if (cross !== undefined && !exposes(res, cross)) return errorEntry('GW_CORS_FORBIDDEN', CORS_HIDDEN);
      return responseEntry(res);
    } catch (err) {
      if (signal.cancelled) return stoppedEntry(why(), true);
      const reason = err instanceof InternalDispatchError ? err.reason : undefined;
      const code = FAILURE_CODES[reason ?? 'failed'];
      if (code === 'GW_INTERNAL') this.log.error({ err, requestId, route: this.routeName }, 'a request of a batch failed');
      return errorEntry(code, reason === 'invalid' ? `The request could not be sent: ${(err as Error).message}` : undefined);
    }
  }

  /** The item's CORS preflight, as the browser would send it to the item's route. */
  private async preflight(
    dispatch: Dispatch,
    req: InternalRequest,
    cross: CrossOrigin,
    ask: { method: string; headers: string[] },
    signal: CancelSignal,
  ): Promise<boolean> {
    const headers: HeaderList = [];
    for (let i = 0; i + 1 < req.headers.length; i += 2) {
      const name = req.headers[i]!.toLowerCase();
      // A browser's preflight carries no credentials and none of the request's own fields.
      if (name === 'host' || name === 'origin' || name === 'user-agent' || name === 'x-request-id')
        headers.push(req.headers[i]!, req.headers[i + 1]!);
    }
    headers.push('origin', cross.origin, 'access-control-request-method', ask.method);
    if (ask.headers.length > 0) headers.push('access-control-request-headers', ask.headers.join(','));
    const res = await dispatch({ method: 'OPTIONS', target: req.target, headers, body: null, maxBodyBytes: 64 * 1024, signal });
    return preflightAllows(res, cross, ask);
  }
}

const CORS_PREFLIGHT = 'The route does not allow this request from the batch’s origin (its CORS preflight failed): it was not sent.';
const CORS_HIDDEN = 'The response does not allow the batch’s origin (CORS): a browser would not show it to the page.';

const FAILURE_CODES: Record<InternalDispatchError['reason'], ErrorCode> = {
  'too-large': 'GW_BATCH_ITEM_TOO_LARGE',
  nested: 'GW_BATCH_NESTED',
  aborted: 'GW_BATCH_TIMEOUT',
  invalid: 'GW_BATCH_INVALID',
  closed: 'GW_INTERNAL',
  failed: 'GW_INTERNAL',
};

/** The entry of a request the batch stopped before its answer (cancelled while running, or never started). */
function stoppedEntry(why: Stop | undefined, started: boolean): string {
  const what = started ? 'Cancelled' : 'Not run';
  return errorEntry('GW_BATCH_TIMEOUT', why === 'gone' ? `${what}: the client went away.` : `${what}: the batch ran out of time.`);
}

export const batchKind: RouteKindDefinition = {
  key: 'batch',
  create(config, env) {
    // Already checked with the route (config/schema.ts); parsed again here for its defaults.
    return new BatchHandler(BatchSchema.parse(config ?? {}), env.log, env.routeName);
  },
};

/** The items' trace parent is the batch's server span (when it is traced and sampled), not the batch's own parent. */
function withParent(inherited: HeaderList, traceparent: string | undefined): HeaderList {
  if (traceparent === undefined) return inherited;
  const out: HeaderList = [];
  for (let i = 0; i + 1 < inherited.length; i += 2) if (inherited[i] !== 'traceparent') out.push(inherited[i]!, inherited[i + 1]!);
  out.push('traceparent', traceparent);
  return out;
}
