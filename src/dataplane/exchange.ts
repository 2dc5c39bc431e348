// One request's way through the gateway — the whole lifecycle, readable top to bottom:
//
//   target → canonical path → route → client identity → access policies
//     → upstream request (headers, upstreamRequest policies) → dispatch
//     → response headers (response policies) → streamed body → log policies + access log
//
// An Exchange is also the undici dispatch handler for its upstream call, so a request costs one
// object here. Bodies stream both ways with backpressure and are never buffered.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { CompiledRoute, Plan } from '../config/compile.js';
import type { ErrorCode } from '../errors.js';
import type { RequestContext, Verdict, HeaderList } from '../policies/types.js';
import type { TargetRuntime } from '../upstream/service.js';
import { canonicalizePath, encodePathForUpstream } from './canonical-path.js';
import { normalizeHost } from './host-pattern.js';
import { addForwardingHeaders, resolveClient, responseHeaders, scanHeaders, type ClientInfo, type ScannedHeaders } from './forwarding.js';
import { sendError, sendVerdict } from './respond.js';
import type { DataPlane } from './dataplane.js';
import { SHADOW_LIMITED } from '../policies/rate-limit/shadow.js';
import { ERROR_HEADERS } from '../policies/error-headers.js';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:@+/=-]{1,200}$/;
/** Set on a socket whose request the gateway refused as malformed: nothing after it is served. */
export const REFUSED = Symbol('gatehouse.refused');

export class Exchange implements Dispatcher.DispatchHandler {
  requestId = '';
  path = '';
  query = '';
  route: CompiledRoute | undefined;
  target: TargetRuntime | undefined;
  client: ClientInfo | undefined;
  status = 0;
  errorCode: ErrorCode | undefined;
  started = 0;
  upstreamStarted = 0;
  upstreamMs = -1;
  private scan!: ScannedHeaders;
  private params: Record<string, string> = {};
  private rest = '';
  private ctx: RequestContext | undefined;
  private abortUpstream: ((err: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private clientGone = false;
  private done = false;

  constructor(
    readonly dp: DataPlane,
    readonly plan: Plan,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  run(): void {
    const { req, res, plan } = this;
    if (this.dp.timed) this.started = performance.now();
    res.once('close', () => this.finish());
    const scan = (this.scan = scanHeaders(req.rawHeaders));
    this.requestId = scan.requestId !== undefined && VALID_REQUEST_ID.test(scan.requestId) ? scan.requestId : randomUUID();
    if (this.dp.draining) res.shouldKeepAlive = false;

    // Target and canonical path.
    if (scan.hostCount > 1) return this.refuse('GW_BAD_REQUEST', 'Duplicate Host header.');
    // HTTP/1.1 requires Host (RFC 9112 §3.2); refused here so nothing pipelined behind it runs.
    if (scan.hostCount === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
      return this.refuse('GW_BAD_REQUEST', 'Missing Host header.');
    }
    let url = req.url ?? '';
    if (url.charCodeAt(0) !== 47 /* / */) {
      const origin = absoluteFormOrigin(url, scan.host);
      if (origin === undefined) return this.refuse('GW_BAD_REQUEST', 'The request target is not acceptable.');
      url = url.slice(origin.length) || '/';
    }
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    this.query = q === -1 ? '' : url.slice(q + 1);
    const path = canonicalizePath(rawPath);
    if (path === undefined) return this.refuse('GW_BAD_PATH');
    this.path = path;

    // Route.
    const found = plan.router.find(req.method!, normalizeHost(scan.host), path, req, this.query);
    if (found === undefined) return this.fail('GW_ROUTE_NOT_FOUND');
    if ('allow' in found) return this.fail('GW_METHOD_NOT_ALLOWED', { allow: found.allow.join(', ') });
    const route = (this.route = found.match.entry.route);
    this.params = found.match.params;
    this.rest = found.match.rest;
    this.client = resolveClient(req.socket.remoteAddress, scan, plan.trustedProxies);

    // Access policies (may be asynchronous: JWKS, introspection, shared counters).
    const access = route.access;
    for (let i = 0; i < access.length; i++) {
      const v = access[i]!.access!(this.context());
      if (v !== undefined && typeof (v as Promise<Verdict>).then === 'function') {
        this.continueAccessAsync(v as Promise<Verdict>, i);
        return;
      }
      if (v !== undefined) return this.answer(v as Exclude<Verdict, undefined | Promise<Verdict>>);
    }
    this.forward();
  }

  private async continueAccessAsync(pending: Promise<Verdict>, index: number): Promise<void> {
    try {
      let v = await pending;
      const access = this.route!.access;
      for (let i = index + 1; v === undefined && i < access.length; i++) v = await access[i]!.access!(this.context());
      if (this.clientGone) return;
      if (v !== undefined) this.answer(v);
      else this.forward();
    } catch (err) {
      this.dp.log.error({ err, requestId: this.requestId, route: this.route?.name }, 'policy failed');
      if (!this.res.headersSent) this.fail('GW_INTERNAL');
    }
  }

  /** The limit a shadow-mode rate-limit policy would have refused this request with (access log). */
  get shadowLimited(): string | undefined {
    return this.ctx?.locals.get(SHADOW_LIMITED) as string | undefined;
  }

  /** The context policies see; built only for routes that have policies. */
  context(): RequestContext {
    return (this.ctx ??= {
      req: this.req,
      requestId: this.requestId,
      method: this.req.method!,
      host: normalizeHost(this.scan.host),
      path: this.path,
      query: this.query,
      clientIp: this.client?.ip ?? '',
      routeName: this.route?.name ?? '',
      serviceName: this.route?.service.name ?? '',
      params: this.params,
      identity: undefined,
      locals: new Map(),
    });
  }

  private forward(): void {
    const route = this.route!;
    const service = route.service;
    const target = (this.target = service.pick());
    const headers = this.scan.forward;
    headers.push('host', route.preserveHost && this.scan.host !== undefined ? this.scan.host : target.host);
    addForwardingHeaders(headers, this.scan, this.client!, this.dp.proto, this.requestId);
    const up = route.upstreamRequest;
    for (let i = 0; i < up.length; i++) up[i]!.upstreamRequest!(this.context(), headers);

    const rewritten = route.rewrite ? route.rewrite(this.path, this.params, this.rest) : this.path;
    const upstreamPath = target.basePath + encodePathForUpstream(rewritten);
    const hasBody = this.scan.transferEncoding !== undefined || (this.scan.contentLength !== undefined && this.scan.contentLength !== '0');
    if (this.dp.timed) this.upstreamStarted = performance.now();
    target.dispatcher.dispatch(
      {
        origin: target.origin,
        method: this.req.method!,
        path: this.query ? `${upstreamPath}?${this.query}` : upstreamPath,
        headers,
        body: hasBody ? this.req : null,
        headersTimeout: service.timeouts.response,
        bodyTimeout: service.timeouts.idle,
      },
      this,
    );
  }

  // ---- undici dispatch handler (the upstream call) ----

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone) abort(new Error('client went away'));
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[], resume: () => void): boolean {
    if (statusCode < 200) return true; // interim responses are not relayed yet
    if (this.dp.timed) this.upstreamMs = performance.now() - this.upstreamStarted;
    this.resumeUpstream = resume;
    const headers = responseHeaders(rawHeaders, this.requestId);
    const route = this.route!;
    let status = statusCode;
    if (route.response.length) {
      const info = { status, headers };
      for (const p of route.response) p.response!(this.context(), info);
      status = info.status;
    }
    this.status = status;
    const res = this.res;
    this.closeIfDraining();
    res.writeHead(status, headers as unknown as HeaderList);
    res.on('drain', () => this.resumeUpstream!());
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onComplete(): void {
    this.abortUpstream = undefined;
    if (!this.req.complete) {
      // The upstream answered before the client's body was all here: undici drops the upstream
      // connection and the rest of the body with it, so this client connection is stuck
      // mid-request and can never carry another one. Close it once the response is out.
      const socket = this.req.socket;
      this.res.once('finish', () => socket?.destroySoon());
    }
    this.res.end();
  }

  onError(err: Error): void {
    this.abortUpstream = undefined;
    if (this.clientGone) return;
    const res = this.res;
    if (res.headersSent) {
      // Mid-body failure: the client must not mistake a truncated body for a whole one.
      this.errorCode = upstreamErrorCode(err);
      res.destroy();
      return;
    }
    const code = upstreamErrorCode(err);
    this.dp.log.warn({ requestId: this.requestId, route: this.route?.name, target: this.target?.url, err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, 'upstream call failed');
    // The client's body may be unread: do not reuse this connection.
    this.fail(code, { close: this.req.readableEnded === false });
  }

  // ---- endings ----

  /** A policy's answer. */
  private answer(v: Exclude<Verdict, undefined>): void {
    this.closeIfDraining();
    this.status = v.status;
    this.errorCode = v.code;
    const extra = this.ctx?.locals.get(ERROR_HEADERS) as string[] | undefined;
    if (extra !== undefined) {
      // An earlier policy's headers (e.g. RateLimit fields), unless this verdict sets its own.
      const headers: Record<string, string> = {};
      for (let i = 0; i < extra.length; i += 2) headers[extra[i]!] = extra[i + 1]!;
      v = { ...v, headers: { ...headers, ...v.headers } };
    }
    sendVerdict(this.res, v, this.requestId);
  }

  private fail(code: ErrorCode, opts?: { allow?: string; close?: boolean }): void {
    this.closeIfDraining();
    this.errorCode = code;
    let headers: Record<string, string> | undefined = opts?.allow !== undefined ? { allow: opts.allow } : undefined;
    // Headers earlier policies want on every answer (e.g. RateLimit fields); see ERROR_HEADERS.
    const extra = this.ctx?.locals.get(ERROR_HEADERS) as string[] | undefined;
    if (extra !== undefined) {
      headers ??= {};
      for (let i = 0; i < extra.length; i += 2) headers[extra[i]!] = extra[i + 1]!;
    }
    sendError(this.res, code, this.requestId, { headers, close: opts?.close });
    this.status = this.res.statusCode;
  }

  /**
   * Drain may begin while this request runs (after the check in run()): its response must still
   * say `connection: close`, or a keep-alive client may reuse a connection the drain is closing.
   */
  private closeIfDraining(): void {
    if (this.dp.draining) this.res.shouldKeepAlive = false;
  }

  /** Malformed input: answer, close the connection, and serve nothing pipelined behind it. */
  private refuse(code: ErrorCode, message?: string): void {
    (this.req.socket as unknown as Record<symbol, boolean>)[REFUSED] = true;
    this.errorCode = code;
    sendError(this.res, code, this.requestId, { close: true, message });
    this.status = this.res.statusCode;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.abortUpstream?.(new Error('client went away'));
    }
    const route = this.route;
    if (route && route.log.length) {
      for (const p of route.log) {
        try { p.log!(this.context(), this.status); } catch { /* logging must not break the request */ }
      }
    }
    this.dp.completed(this);
  }
}

function upstreamErrorCode(err: Error): ErrorCode {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return 'GW_UPSTREAM_TIMEOUT';
    case 'HPE_INVALID_CONSTANT':
    case 'UND_ERR_INFO':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'GW_UPSTREAM_ERROR';
    default:
      if (code?.startsWith('HPE_') || err.name === 'HTTPParserError') return 'GW_UPSTREAM_ERROR';
      return 'GW_UPSTREAM_UNAVAILABLE';
  }
}

/**
 * For an absolute-form target ("http://host/path"), the "scheme://authority" part — accepted only
 * when the authority is the Host header, so a request target can never name another host.
 */
function absoluteFormOrigin(url: string, host: string | undefined): string | undefined {
  const m = /^https?:\/\/([^/?#]*)/i.exec(url);
  if (!m || host === undefined || m[1]!.toLowerCase() !== host.toLowerCase()) return undefined;
  return m[0];
}
