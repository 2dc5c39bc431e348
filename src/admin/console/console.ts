// The web console's side of the admin listener: its files at /ui/ (static.ts), its login at
// /ui/session, and the session check every admin endpoint makes besides the bearer token.
// docs/dashboard.md describes it; test/console-*.test.ts drive it over real HTTP.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '../../errors.js';
import { foreignBrowserRequest } from '../browser-guard.js';
import { ConsoleFiles, CONSOLE_HEADERS } from './static.js';
import { LoginThrottle } from './login-throttle.js';
import { clearedCookie, csrfMatches, sessionCookie, sessionSetCookie, SessionStore, type Session } from './sessions.js';

const MAX_LOGIN_BODY = 4096;

/** What the admin server needs to know about the token for a login. */
export interface TokenCheck {
  /** Whether a token is set (false: loopback without a token, no login). */
  required(): boolean;
  /** Whether `presented` is the token (constant time). */
  matches(presented: string): boolean;
  /** The admin listener's host (the foreign-browser guard's own name). */
  host(): string;
}

type Send = (res: ServerResponse, status: number, body: string, headers?: Record<string, string>) => void;

export class AdminConsole {
  readonly sessions = new SessionStore();
  private readonly throttle = new LoginThrottle();
  private readonly files: ConsoleFiles;

  constructor(
    private readonly token: TokenCheck,
    private readonly send: Send,
    files?: ConsoleFiles,
  ) {
    this.files = files ?? new ConsoleFiles();
  }

  /** Whether `path` (without query, trailing slashes trimmed) is the console's: `/` and `/ui…`. */
  static owns(path: string): boolean {
    return path === '/' || path === '/ui' || path.startsWith('/ui/');
  }

  /** Answers a console path (AdminConsole.owns). */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? '';
    if (path === '/') {
      this.send(res, 302, '', { ...CONSOLE_HEADERS, location: '/ui/' });
      return;
    }
    if (path === '/ui/session') return this.session(req, res, method);
    if (method !== 'GET' && method !== 'HEAD') {
      this.fail(res, 405, 'ADMIN_METHOD_NOT_ALLOWED', { allow: 'GET, HEAD' });
      return;
    }
    // requestPath trims trailing slashes: "/ui" and "/ui/" are both the index.
    const name = path === '/ui' ? '' : path.slice(4);
    const answer = this.files.serve(name, method, headerValue(req.headers['if-none-match']));
    if (!answer) {
      const message = this.files.built ? undefined : 'The console is not built: run `npm run build:ui` (npm install does).';
      this.send(res, 404, errorBody('ADMIN_NOT_FOUND', undefined, message), CONSOLE_HEADERS);
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  /**
   * The session a request's cookie names, if live (used as it is checked). Ignored when the
   * request carries an Authorization header: a request is authenticated one way, never both.
   */
  sessionOf(req: IncomingMessage): Session | undefined {
    if (req.headers.authorization !== undefined) return undefined;
    return this.sessions.get(sessionCookie(req.headers.cookie));
  }

  /**
   * Whether a change authenticated by the cookie is the console's own: the session's CSRF value in
   * x-gatehouse-csrf, and nothing that says another page sent it. `same-site` is refused too: a
   * page served by this host on another port (the data plane's) is same-site, and cookies ignore ports.
   */
  csrfOk(req: IncomingMessage, session: Session): boolean {
    if (!csrfMatches(req.headers['x-gatehouse-csrf'], session)) return false;
    const site = req.headersDistinct['sec-fetch-site'];
    if (site !== undefined && (site.length !== 1 || !['same-origin', 'none'].includes(site[0]!.toLowerCase()))) return false;
    const origins = req.headersDistinct.origin;
    if (origins === undefined) return true;
    const hosts = req.headersDistinct.host;
    if (origins.length !== 1 || hosts?.length !== 1) return false;
    try {
      return new URL(origins[0]!).origin === new URL(`http://${hosts[0]!}`).origin;
    } catch {
      return false;
    }
  }

  /** Ends every session (the admin token changed). */
  dropAll(): void {
    this.sessions.clear();
  }

  private async session(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const required = this.token.required();
    // Without a token the console is as open as the admin API: no login, the same browser guard.
    if (!required && foreignBrowserRequest(req.headersDistinct, this.token.host())) {
      this.fail(res, 403, 'ADMIN_FORBIDDEN');
      return;
    }
    const cookie = sessionCookie(req.headers.cookie);
    if (method === 'GET' || method === 'HEAD') {
      const s = this.sessions.get(cookie);
      if (s) {
        this.answer(res, 200, s);
        return;
      }
      if (required) {
        this.send(res, 401, withTokenRequired(errorBody('ADMIN_UNAUTHORIZED', undefined, 'Log in with the admin token.')), {
          ...CONSOLE_HEADERS,
        });
        return;
      }
      this.login(res, cookie);
      return;
    }
    if (method === 'POST') {
      const address = req.socket.remoteAddress ?? '';
      const wait = this.throttle.blockedFor(address);
      if (wait > 0) {
        req.resume();
        this.fail(res, 429, 'ADMIN_TOO_MANY_LOGINS', { 'retry-after': String(wait) });
        return;
      }
      if (!this.sameOrigin(req)) {
        req.resume();
        this.fail(res, 403, 'ADMIN_CSRF');
        return;
      }
      const token = await readToken(req);
      if (token === undefined) {
        this.fail(res, 400, 'ADMIN_BAD_BODY', {}, 'Send {"token": "…"} as JSON (at most 4 KiB).');
        return;
      }
      // Again, now that the body is in: attempts sent at once all passed the check above before
      // any of them failed, and each must count against the ones compared before it.
      const waitNow = this.throttle.blockedFor(address);
      if (waitNow > 0) {
        this.fail(res, 429, 'ADMIN_TOO_MANY_LOGINS', { 'retry-after': String(waitNow) });
        return;
      }
      if (required && !this.token.matches(token)) {
        this.throttle.failed(address);
        this.send(res, 401, withTokenRequired(errorBody('ADMIN_UNAUTHORIZED')), CONSOLE_HEADERS);
        return;
      }
      this.login(res, cookie);
      return;
    }
    if (method === 'DELETE') {
      const s = this.sessions.get(cookie, false);
      if (!s) {
        this.fail(res, 401, 'ADMIN_UNAUTHORIZED');
        return;
      }
      if (!this.csrfOk(req, s)) {
        this.fail(res, 403, 'ADMIN_CSRF');
        return;
      }
      this.sessions.drop(cookie);
      this.send(res, 204, '', { ...CONSOLE_HEADERS, 'set-cookie': clearedCookie() });
      return;
    }
    this.fail(res, 405, 'ADMIN_METHOD_NOT_ALLOWED', { allow: 'GET, HEAD, POST, DELETE' });
  }

  /** A fresh session (an old cookie's session ends: a login never keeps an id it did not make). */
  private login(res: ServerResponse, oldCookie: string | undefined): void {
    this.sessions.drop(oldCookie);
    const { id, session } = this.sessions.create();
    this.answer(res, 200, session, { 'set-cookie': sessionSetCookie(id, this.sessions.maxAgeSeconds) });
  }

  private answer(res: ServerResponse, status: number, s: Session, headers: Record<string, string> = {}): void {
    const body = { csrf: s.csrf, tokenRequired: this.token.required(), expiresAt: this.sessions.expiresAt(s).toISOString() };
    this.send(res, status, JSON.stringify(body), { ...CONSOLE_HEADERS, ...headers });
  }

  /** A login form post from another page (login CSRF) is refused like any cross-site change. */
  private sameOrigin(req: IncomingMessage): boolean {
    const site = req.headersDistinct['sec-fetch-site'];
    if (site?.some((v) => v.toLowerCase() === 'cross-site' || v.toLowerCase() === 'same-site')) return false;
    const origin = headerValue(req.headers.origin);
    if (origin === undefined) return true;
    try {
      return new URL(origin).origin === new URL(`http://${headerValue(req.headers.host) ?? ''}`).origin;
    } catch {
      return false;
    }
  }

  private fail(
    res: ServerResponse,
    status: number,
    code: Parameters<typeof errorBody>[0],
    headers: Record<string, string> = {},
    message?: string,
  ): void {
    this.send(res, status, errorBody(code, undefined, message), { ...CONSOLE_HEADERS, ...headers });
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function withTokenRequired(body: string): string {
  return JSON.stringify({ ...(JSON.parse(body) as object), tokenRequired: true });
}

/** `{"token": "…"}` from a small JSON body; undefined for anything else. */
async function readToken(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_LOGIN_BODY) return undefined;
    chunks.push(chunk);
  }
  try {
    const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    const token = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).token : undefined;
    return typeof token === 'string' ? token : undefined;
  } catch {
    return undefined;
  }
}
