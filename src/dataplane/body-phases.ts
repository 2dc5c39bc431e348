// The two body phases of the lifecycle (decision 0007). Bodies stream by default; only a route
// with a requestBody policy reads its request body whole, and only a response a responseBody
// policy asks for is held and read whole. Both are bounded.
//
//   requestBody:  the body read whole (request-body.ts readUpTo: a Content-Length over the bound
//                 is 413 at once, a chunked body 413 once past it) → each policy in turn (may
//                 replace the body, or answer)
//   responseBody: the head is held (HeldResponse); the body collected up to the smallest
//                 `maxBytes`; past it, passed through unchanged or 502, as the rewrites say; at
//                 the end each rewrite in turn, then the head with the new Content-Length.
import type { IncomingMessage } from 'node:http';
import type {
  HeaderList,
  Policy,
  RequestBody,
  RequestContext,
  ResponseInfo,
  ResponseRewrite,
  ResponseTransform,
  Verdict,
} from '../policies/types.js';
import { BodyRefusal } from '../policies/types.js';
import type { ScannedHeaders } from './forwarding.js';
import type { CompiledRoute } from './plan.js';
import type { Answer, ErrorAnswer } from './respond.js';
import { removeHeader } from './header-list.js';
import { armBodyTimeout, hasBody, readUpTo } from './request-body.js';

/** What the requestBody phase needs of its exchange. */
export interface BodyPhaseOwner {
  gone(): boolean;
  step(fn: () => void): void;
  refuse(a: Answer): void;
  crashed(err: unknown): void;
  /** The policies let the request on: `body` is what goes upstream; `read` the bytes the client sent. */
  passed(body: Buffer, read: number): void;
}

/** The requestBody phase: the body read whole (bounded), then each policy in turn. */
export function requestBodyPhase(
  req: IncomingMessage,
  scan: ScannedHeaders,
  route: CompiledRoute,
  idleTimeout: number,
  read: { whole?: Buffer | null; prefix?: Buffer[] | undefined },
  context: () => RequestContext,
  owner: BodyPhaseOwner,
): void {
  // The bound is the route's (plan.ts: its requestBody policies' and its request-size-limit's).
  const run = (bytes: Buffer | undefined): void =>
    owner.step(() => {
      if (owner.gone()) return;
      if (bytes === undefined) return owner.refuse({ kind: 'error', code: 'GW_PAYLOAD_TOO_LARGE' });
      const body: RequestBody = { body: bytes, contentType: req.headers['content-type'] ?? '' };
      runRequestBodyPolicies(route.requestBody, context(), body).then(
        (refused) => {
          if (owner.gone()) return;
          if (refused === undefined) return owner.passed(body.body, bytes.length);
          owner.refuse({ kind: 'verdict', verdict: refused.verdict, by: route.requestBodyTypes[refused.index] });
        },
        (err: unknown) => owner.crashed(err),
      );
    });
  const limit = route.bodyBufferBytes;
  // Payload routing may have read it already: whole, or its first chunks.
  if (read.whole != null) return run(read.whole.length > limit ? undefined : read.whole);
  if (!hasBody(scan)) return run(Buffer.alloc(0));
  armBodyTimeout(req, idleTimeout);
  readUpTo(req, scan, limit, read.prefix ?? [], (r) => run(r.whole));
}

/**
 * The upstream request's fields the body phases change: a body the requestBody policies had goes
 * with its own length; a route that rewrites responses asks the service not to encode them.
 */
export function forBodyPhases(headers: HeaderList, replaced: Buffer | undefined, hadBody: boolean, rewritesResponses: boolean): void {
  if (replaced !== undefined) {
    removeHeader(headers, 'content-length');
    if (replaced.length > 0 || hadBody) headers.push('content-length', String(replaced.length));
  }
  if (rewritesResponses) {
    removeHeader(headers, 'accept-encoding');
    headers.push('accept-encoding', 'identity');
  }
}

/** Runs the requestBody policies in turn; the first verdict and its index, or undefined. */
export async function runRequestBodyPolicies(
  policies: readonly Policy[],
  ctx: RequestContext,
  body: RequestBody,
): Promise<{ verdict: NonNullable<Verdict>; index: number } | undefined> {
  for (let i = 0; i < policies.length; i++) {
    const v = await policies[i]!.requestBody!(ctx, body);
    if (v !== undefined) return { verdict: v, index: i };
  }
  return undefined;
}

/** Statuses (and HEAD) whose response has no body to rewrite. */
export function mayHaveBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/** The body has a Content-Encoding (gzip …) a rewrite could not read: it streams as it came. */
export function isEncoded(headers: HeaderList): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'content-encoding') return headers[i + 1]!.trim().toLowerCase() !== 'identity';
  }
  return false;
}

/** Whether this request's body is read whole for the requestBody phase: some policy of it needs it (`readsBody`). */
export function readsBody(policies: readonly Policy[], ctx: RequestContext): boolean {
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    if (p.readsBody === undefined || p.readsBody(ctx)) return true;
  }
  return false;
}

/** What the responseBody phase does with one response: nothing, a stream transform, or rewrites of the whole body. */
export type BodyHandling = undefined | { transform: ResponseTransform; by: Policy } | { rewrites: ResponseRewrite[] };

/**
 * Asks each responseBody policy whether it wants this response. The first stream transform wins:
 * the others are asked again about its output (`rewritesFor` with `skip`) once its head is known.
 */
export function responseBodyFor(policies: readonly Policy[], ctx: RequestContext, info: ResponseInfo): BodyHandling {
  if (!mayHaveBody(ctx.method, info.status) || isEncoded(info.headers)) return undefined;
  let out: ResponseRewrite[] | undefined;
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    const r = p.responseBody!(ctx, info);
    if (r === undefined) continue;
    if (isTransform(r)) return { transform: r, by: p };
    (out ??= []).push(r);
  }
  return out === undefined ? undefined : { rewrites: out };
}

/** The rewrites of the whole body the policies other than `skip` want (a transform's output). */
export function rewritesFor(
  policies: readonly Policy[],
  ctx: RequestContext,
  info: ResponseInfo,
  skip: Policy,
): ResponseRewrite[] | undefined {
  if (!mayHaveBody(ctx.method, info.status) || isEncoded(info.headers)) return undefined;
  let out: ResponseRewrite[] | undefined;
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    if (p === skip) continue;
    const r = p.responseBody!(ctx, info);
    if (r !== undefined && !isTransform(r)) (out ??= []).push(r);
  }
  return out;
}

function isTransform(r: ResponseRewrite | ResponseTransform): r is ResponseTransform {
  return typeof (r as ResponseTransform).data === 'function';
}

/** Where a held response goes: the exchange's client side. */
export interface HeldSink {
  head(status: number, headers: HeaderList): void;
  write(chunk: Buffer): boolean;
  end(): void;
  /** The gateway answers instead (the upstream call is stopped first when `cancel`). */
  refuse(answer: ErrorAnswer, cancel: boolean): void;
  crashed(err: unknown): void;
  gone(): boolean;
}

/** A response whose head waits for its body to be read whole and rewritten. */
export class HeldResponse {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly maxBytes: number;
  /** What to do past `maxBytes`: 'error' when any rewrite says so. */
  private readonly tooLarge: 'pass' | 'error';
  /** Past the bound and passed through: the rest streams as usual. */
  released = false;

  constructor(
    private readonly info: ResponseInfo,
    private readonly rewrites: readonly ResponseRewrite[],
    private readonly sink: HeldSink,
  ) {
    this.maxBytes = Math.min(...rewrites.map((r) => r.maxBytes));
    this.tooLarge = rewrites.some((r) => r.tooLarge === 'error') ? 'error' : 'pass';
  }

  /** A chunk of the service's body: kept, or (past the bound) the answer decided. */
  data(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size <= this.maxBytes) {
      this.chunks.push(chunk);
      return true;
    }
    this.released = true;
    const kept = this.chunks;
    this.chunks = [];
    if (this.tooLarge === 'error') {
      this.sink.refuse({ kind: 'error', code: 'GW_UPSTREAM_BODY_TOO_LARGE' }, true);
      return false;
    }
    // Passed through as it came: the head, what was kept, then the rest streams.
    const sink = this.sink;
    sink.head(this.info.status, this.info.headers);
    for (const c of kept) sink.write(c);
    return sink.write(chunk);
  }

  /** The body is all here: the rewrites in turn, then the head with the new Content-Length and the body. */
  end(): void {
    this.rewrite().then(
      (body) => {
        const sink = this.sink;
        if (sink.gone()) return;
        const headers = this.info.headers;
        removeHeader(headers, 'content-length');
        removeHeader(headers, 'transfer-encoding');
        headers.push('content-length', String(body.length));
        try {
          sink.head(this.info.status, headers);
        } catch (err) {
          // A header a rewrite (or a transform before it) set that cannot be sent: nothing went
          // out, so the client gets a 500 (thrown inside this callback, it left the request hanging).
          return sink.crashed(err);
        }
        sink.write(body);
        sink.end();
      },
      (err: unknown) => {
        if (err instanceof BodyRefusal)
          this.sink.refuse({ kind: 'error', code: err.code, message: err.message, details: err.details, status: err.status }, false);
        else this.sink.crashed(err);
      },
    );
  }

  private async rewrite(): Promise<Buffer> {
    let body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    for (const r of this.rewrites) body = await r.rewrite(body, this.info);
    return body;
  }
}
