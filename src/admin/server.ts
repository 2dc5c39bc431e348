// The admin API: its own listener (loopback by default), an optional bearer token, JSON in and
// out. It reads and changes an instance only through the Controller interface; the data plane
// never imports anything from here.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseConfigText } from '../validation/load.js';
import { validateConfig, type ConfigIssue } from '../validation/validate.js';
import { redactChanges } from '../config/redact.js';
import { describeServices, routeTable } from '../dataplane/describe.js';
import { errorBody, ERRORS } from '../errors.js';
import type { ApplyResult, Controller } from '../runtime/instance.js';
import type { BoundListener } from '../dataplane/dataplane.js';
import { listenerUrl } from '../dataplane/listener-url.js';
import type { Logger } from '../observability/logger.js';
import { openApiDocument } from './openapi.js';
import { foreignBrowserRequest } from './browser-guard.js';
import { ConsumerEndpoints } from './consumers.js';
import { GraphQLOperationEndpoints } from './graphql-operations.js';
import { VERSION } from '../version.js';
import { analyticsEndpoint, metricsEndpoint, timeseriesEndpoint } from './observability.js';
import { readyEndpoint } from './ready.js';
import { configEndpoint } from './config-endpoint.js';
import { certificatesEndpoint } from './certificates.js';
import { cachePurgeEndpoint, cacheStatsEndpoint } from './cache.js';
import { AdminError } from './errors.js';
import { ConfigResourceEndpoints } from './config-resources.js';
import { etagOf } from './etag.js';
import { Refusal } from './edits.js';
import { changeMeta, configStoreEndpoint } from './config-versions.js';
import { bootPart, diffDocuments } from '../controlplane/document.js';
import { keepConsumers, restoreSecrets } from './sent-config.js';
import { placeIssues } from './console/config-text.js';
import { AdminConsole } from './console/console.js';
import type { Session } from './console/sessions.js';
import { overviewEndpoint } from './console/overview.js';
import { explainEndpoint } from './console/explain.js';
import { usageEndpoint } from './console/usage.js';

const MAX_BODY = 10 * 1024 * 1024;
/** Endpoints that answer without the token (probes and the API description). */
const OPEN_PATHS = new Set(['/health', '/ready', '/openapi.json']);

/** [status, body, content type (default JSON), extra headers]. */
type Answer = [number, unknown, string?, Record<string, string>?];
type Handler = (req: IncomingMessage) => Promise<Answer> | Answer;

export class AdminServer {
  private readonly server: http.Server;
  /** The token the digest below is of (null: not read yet); read from the config per request, so a reload can rotate it. */
  private tokenSeen: string | null = null;
  private digestOfToken: Buffer | undefined;
  /** The web console (admin.console); undefined when it is off. */
  private readonly console: AdminConsole | undefined;
  private readonly routes: Record<string, Partial<Record<string, Handler>>>;
  private readonly consumers: ConsumerEndpoints;
  private readonly graphqlOperations: GraphQLOperationEndpoints;
  private readonly configResources: ConfigResourceEndpoints;
  /** The host the listener binds (a Host header naming it is not a rebound name). */
  private host = '127.0.0.1';
  private readonly startedAt = new Date();

  constructor(
    private readonly ctl: Controller,
    private readonly log: Logger,
  ) {
    if (ctl.config.admin.console)
      this.console = new AdminConsole(
        {
          required: () => this.tokenDigest !== undefined,
          matches: (t) => this.tokenDigest !== undefined && timingSafeEqual(digest(t.trim()), this.tokenDigest),
          host: () => this.host,
        },
        send,
      );
    this.routes = {
      '/health': { GET: () => [200, { status: 'ok', version: VERSION }] },
      '/ready': { GET: (req) => readyEndpoint(ctl, this.authenticate(req) !== undefined) },
      '/config': {
        GET: (req) => configEndpoint(ctl, req),
        POST: async (req) => this.changeConfig(req, true),
      },
      '/validate': { POST: async (req) => this.changeConfig(req, false) },
      '/routes': { GET: () => [200, { configVersion: ctl.version, routes: routeTable(ctl.plan) }] },
      '/services': { GET: () => [200, { configVersion: ctl.version, services: describeServices(ctl.plan) }] },
      '/openapi.json': { GET: () => [200, openApiDocument()] },
      '/metrics': { GET: () => metricsEndpoint(ctl) },
      '/analytics': { GET: (req) => analyticsEndpoint(ctl, req) },
      '/analytics/timeseries': { GET: (req) => timeseriesEndpoint(ctl, req) },
      '/overview': { GET: () => overviewEndpoint(ctl, this.startedAt) },
      '/explain': { POST: (req) => explainEndpoint(ctl, req, readBodyDocument) },
      '/certificates': { GET: () => certificatesEndpoint(ctl) },
      '/cache': { DELETE: (req) => cachePurgeEndpoint(ctl, req) },
      '/cache/stats': { GET: () => cacheStatsEndpoint(ctl) },
    };
    this.consumers = new ConsumerEndpoints(ctl, readBodyDocument);
    this.graphqlOperations = new GraphQLOperationEndpoints(ctl, readBodyDocument);
    this.configResources = new ConfigResourceEndpoints(ctl, readBodyDocument);
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  /** Never rejects: whatever a handler throws becomes an answer (and a log line), not a crash. */
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.dispatch(req, res);
    } catch (err) {
      this.fail(res, err);
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = requestPath(req.url ?? '/');
    // The console's files and login answer without the token (console/console.ts).
    if (this.console && AdminConsole.owns(path)) return this.console.handle(req, res, path);
    // The token (or a console session) is checked before anything else reads the path: no
    // unauthenticated request gets further than this line, whatever it sends.
    const auth = this.authenticate(req);
    if (!OPEN_PATHS.has(path) && auth === undefined) {
      send(res, 401, errorBody('ADMIN_UNAUTHORIZED'), { 'www-authenticate': 'Bearer realm="gatehouse-admin"' });
      return;
    }
    // A change made with the session cookie must be the console's own (a cookie rides along with
    // any request the browser makes; the CSRF value only the console's page holds).
    if (typeof auth === 'object' && req.method !== 'GET' && req.method !== 'HEAD' && !this.console!.csrfOk(req, auth)) {
      send(res, 403, errorBody('ADMIN_CSRF'));
      return;
    }
    if (this.tokenDigest === undefined && foreignBrowserRequest(req.headersDistinct, this.host)) {
      send(res, 403, errorBody('ADMIN_FORBIDDEN'));
      return;
    }
    const segments = path.split('/').slice(1).map(decodeSegment);
    if (segments[0] === 'consumers' || segments[0] === 'graphql' || (segments[0] === 'config' && segments.length > 1)) {
      const rest = segments.slice(1);
      const pending =
        segments[0] === 'consumers'
          ? this.consumers.handle(req, rest)
          : segments[0] === 'config'
            ? this.configResources.handle(req, rest)
            : this.graphqlOperations.handle(req, rest);
      if (pending) {
        const [status, body, headers] = await pending;
        send(res, status, typeof body === 'string' ? body : JSON.stringify(body, null, 2), headers);
        return;
      }
    }
    const stored = configStoreEndpoint(this.ctl, req, segments);
    if (stored) {
      const [status, body] = await stored;
      send(res, status, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
      return;
    }
    const endpoint = this.routes[path] ?? this.paramRoute(segments);
    if (!endpoint) {
      send(res, 404, errorBody('ADMIN_NOT_FOUND'));
      return;
    }
    const handler = endpoint[req.method ?? ''];
    if (!handler) {
      send(res, 405, errorBody('ADMIN_METHOD_NOT_ALLOWED'), { allow: Object.keys(endpoint).join(', ') });
      return;
    }
    const [status, body, type, headers] = await handler(req);
    send(res, status, typeof body === 'string' ? body : JSON.stringify(body, null, 2), {
      ...(type ? { 'content-type': type } : {}),
      ...headers,
    });
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof AdminError && !res.headersSent)
      return send(res, ERRORS[err.code].status, errorBody(err.code, undefined, err.message));
    this.log.error({ err }, 'admin request failed');
    if (res.headersSent)
      res.destroy(); // the status line is out: a cut connection is the only honest answer
    else send(res, 500, errorBody('GW_INTERNAL'));
  }

  /** Endpoints with a parameter in the path (segments are decoded). */
  private paramRoute(segments: string[]): Partial<Record<string, Handler>> | undefined {
    if (segments.length === 3 && segments[0] === 'services' && segments[2] === 'health' && segments[1] !== '') {
      const name = segments[1]!;
      return { GET: () => this.serviceHealth(name) };
    }
    if (segments.length === 3 && segments[0] === 'consumers' && segments[2] === 'usage' && segments[1] !== '') {
      const id = segments[1]!;
      return { GET: () => usageEndpoint(this.ctl, id) };
    }
    return undefined;
  }

  private async serviceHealth(name: string): Promise<[number, unknown]> {
    if (!this.ctl.plan.services.has(name)) throw new AdminError('ADMIN_NOT_FOUND', `No service named "${name}".`);
    const planes = await this.ctl.inspect({ what: 'health', service: name });
    if (planes.length === 1) return [200, { configVersion: this.ctl.version, ...(planes[0] as object) }];
    // With workers each keeps its own passive health and breaker: show every one.
    return [200, { configVersion: this.ctl.version, service: name, workers: planes }];
  }

  /**
   * How a request is authenticated: 'bearer' (the token), a console session (its cookie), 'open'
   * (no token is set), or undefined (not at all). A session is reported even without a token, so
   * that changes made with its cookie are CSRF-checked all the same.
   */
  private authenticate(req: IncomingMessage): 'bearer' | 'open' | Session | undefined {
    const expected = this.tokenDigest; // first: a changed token ends the sessions before one is looked up
    const session = this.console?.sessionOf(req);
    if (session) return session;
    if (!expected) return 'open';
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    // Compare digests so the comparison takes the same time whatever the token's length.
    return m !== null && timingSafeEqual(digest(m[1]!.trim()), expected) ? 'bearer' : undefined;
  }

  /** The digest of the configured token (undefined: none). A changed token ends every console session. */
  private get tokenDigest(): Buffer | undefined {
    // Trimmed as the presented token is: surrounding whitespace in a config value must not lock everyone out.
    const token = this.ctl.config.admin.token?.trim() ?? '';
    if (token !== this.tokenSeen) {
      if (this.tokenSeen !== null) this.console?.dropAll();
      this.tokenSeen = token;
      this.digestOfToken = token ? digest(token) : undefined;
    }
    return this.digestOfToken;
  }

  private async changeConfig(req: IncomingMessage, apply: boolean): Promise<Answer> {
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const text = await readBodyText(req);
    // Secrets sent back as GET /config shows them ("[redacted]") are the running ones (sent-config.ts).
    if (text.trim() === '') throw new AdminError('ADMIN_BAD_BODY', 'The request body is empty; send JSON or YAML.');
    const parsed = parseConfigText(text);
    // A syntax error: where it is (line/column) for the editor, in details.
    if (!parsed.ok)
      return [
        400,
        errorBody(
          'ADMIN_BAD_BODY',
          undefined,
          `The body is not valid JSON or YAML: ${parsed.errors[0]!.path}: ${parsed.errors[0]!.message}`,
          parsed.errors.map(syntaxIssue),
        ),
      ];
    const restored = restoreSecrets(parsed.doc, this.ctl.config);
    // Where each error is in the text, for an editor; a JSON client (a script) gets path and message as before.
    const place = (issues: readonly ConfigIssue[]) => (isJson(req, text) ? issues : placeIssues(text, issues));
    if (restored.issues.length > 0) return [400, errorBody('CONFIG_INVALID', undefined, undefined, place(restored.issues))];
    const sent = query.get('consumers') === 'keep' ? keepConsumers(restored.doc, this.ctl.config) : restored.doc;
    // With a config store the boot keys (listen, admin, …) are this instance's boot file's: a
    // config sent here is the stored part, whatever boot keys it carries (GET /config's, redacted).
    const boot = this.ctl.history ? bootPart(this.ctl.config) : undefined;
    const result = validateConfig(boot ? { ...asObject(sent), ...boot } : sent);
    let outcome: ApplyResult;
    if (!apply) outcome = this.ctl.check(result);
    else if (req.headers['if-match'] === undefined) outcome = await this.ctl.apply(result, 'admin-api', changeMeta(req));
    else {
      // The ETag is checked in the apply queue, against the config the replacement would replace.
      try {
        outcome = await this.ctl.applyEdit(
          (current) => {
            const now = etagOf(current)!;
            const wanted = req.headers['if-match']!.split(',').map((t) => t.trim());
            if (!wanted.includes('*') && !wanted.includes(now))
              throw new Refusal('ADMIN_PRECONDITION_FAILED', `the config has changed since it was read (If-Match: its ETag is now ${now})`);
            return result;
          },
          'admin-api',
          changeMeta(req),
        );
      } catch (err) {
        if (!(err instanceof Refusal)) throw err;
        return [ERRORS[err.code].status, errorBody(err.code, undefined, err.message)];
      }
    }
    if (!outcome.ok) {
      return [ERRORS[outcome.code].status, errorBody(outcome.code, undefined, undefined, place(outcome.errors))];
    }
    if (!apply) {
      // ?diff=1: what applying it would change, as the config store's diff shows it (secrets redacted).
      if (query.get('diff') !== '1' || !result.ok) return [200, { valid: true }];
      return [200, { valid: true, diff: redactChanges(diffDocuments(this.ctl.config, result.config)) }];
    }
    return [
      200,
      { applied: true, configVersion: outcome.version, ...(outcome.unchanged && { unchanged: true }) },
      undefined,
      { etag: etagOf(this.ctl.config)! },
    ];
  }

  listen(host: string, port: number): Promise<BoundListener> {
    this.host = host;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        const bound = typeof a === 'object' && a ? a.port : port;
        resolve({ host, port: bound, url: listenerUrl(false, host, bound) });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** The path without its query and trailing slashes ("/" for none). A loop: a regex here was quadratic in the slashes. */
function requestPath(url: string): string {
  const q = url.indexOf('?');
  let end = q < 0 ? url.length : q;
  while (end > 0 && url.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === 0 ? '/' : url.slice(0, end);
}

/** A path segment, percent-decoded; a malformed escape or invalid UTF-8 is the client's error (400). */
function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new AdminError('ADMIN_BAD_PATH');
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    ...headers,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    // A page of this host on another port gets the console's cookie sent along (same site): its
    // <script src> of an admin answer must not run as script.
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

/**
 * A config sent to the admin API is taken literally: `${VAR}` is expanded only in config files.
 * Expanded here, any value a refusal echoes (an unknown plugin, a bad URL) would hand an admin
 * client the gateway's environment — its secrets.
 */
function asObject(doc: unknown): Record<string, unknown> {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new AdminError('ADMIN_BAD_BODY', 'The config must be an object.');
  return doc as Record<string, unknown>;
}

/** Reads a JSON or YAML body into a plain document (refusals are AdminErrors). */
async function readBodyDocument(req: IncomingMessage): Promise<unknown> {
  return parseBody(await readBodyText(req));
}

async function readBodyText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new AdminError('ADMIN_BODY_TOO_LARGE');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sent as JSON (by its content type, or its text: scripts often send JSON without one). */
function isJson(req: IncomingMessage, text: string): boolean {
  return /^application\/(?:[\w.+-]+\+)?json\b/i.test(req.headers['content-type'] ?? '') || /^\s*\{/.test(text);
}

/** A parse error's "line N, column M" path as numbers. */
function syntaxIssue(e: { path: string; message: string }): { path: string; message: string; line?: number; column?: number } {
  const m = /^line (\d+), column (\d+)$/.exec(e.path);
  return m ? { ...e, line: Number(m[1]), column: Number(m[2]) } : e;
}

function parseBody(text: string): unknown {
  if (text.trim() === '') throw new AdminError('ADMIN_BAD_BODY', 'The request body is empty; send JSON or YAML.');
  const parsed = parseConfigText(text);
  if (!parsed.ok)
    throw new AdminError('ADMIN_BAD_BODY', `The body is not valid JSON or YAML: ${parsed.errors[0]!.path}: ${parsed.errors[0]!.message}`);
  return parsed.doc;
}
