// The admin API as the console calls it. The session lives in an HttpOnly cookie the browser sends
// by itself (same origin); the CSRF value the server hands out is kept here, in this module's
// memory only — never localStorage or sessionStorage, which any script on the origin could read and
// which outlive the tab — and sent as `x-gatehouse-csrf` on every change.

export interface Session {
  csrf: string;
  tokenRequired: boolean;
  expiresAt: string;
}

export interface FieldError {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** An answer other than 2xx, with the admin API's error body when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
    readonly body?: unknown,
  ) {
    super(message);
  }
}

let csrf: string | undefined;
let onUnauthorized: () => void = () => undefined;

/** Called when any request is answered 401: the session is gone, show the login view. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

const CHANGES = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export interface RequestOptions {
  body?: unknown;
  /** Sent as is with this content type instead of JSON. */
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Return the body as text (GET /config?format=yaml). */
  asText?: boolean;
  signal?: AbortSignal;
  /** A 401 is this caller's answer (the login form), not a lost session. */
  quiet401?: boolean;
  /** Given the headers of a successful answer (an ETag to send back as If-Match). */
  onHeaders?: (headers: Headers) => void;
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: opts.asText ? 'text/plain, application/yaml' : 'application/json', ...opts.headers };
  let body: string | undefined;
  if (opts.text !== undefined) {
    body = opts.text;
    headers['content-type'] = opts.contentType ?? 'text/plain';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  if (CHANGES.has(method)) {
    if (csrf !== undefined) headers['x-gatehouse-csrf'] = csrf;
    // The config store's history says who made a change: this one came through the console.
    headers['x-gatehouse-author'] ??= 'console';
  }
  const res = await fetch(path, {
    method,
    headers,
    body,
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'error',
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status === 204) return undefined as T;
  const raw = await res.text();
  if (!res.ok) throw toError(res.status, raw, opts.quiet401 === true);
  opts.onHeaders?.(res.headers);
  if (opts.asText) return raw as T;
  return (raw === '' ? undefined : JSON.parse(raw)) as T;
}

function toError(status: number, raw: string, quiet401: boolean): ApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const err = (parsed as { error?: { code?: string; message?: string; details?: FieldError[] } } | undefined)?.error;
  if (status === 401 && !quiet401) {
    csrf = undefined;
    onUnauthorized();
  }
  return new ApiError(
    status,
    err?.code ?? `HTTP_${status}`,
    err?.message ?? `The admin API answered ${status}.`,
    err?.details ?? [],
    parsed,
  );
}

export const get = <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts);
export const post = <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, { ...opts, body });
export const put = <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PUT', path, { ...opts, body });
export const del = <T>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, opts);

/** The current session, or undefined when there is none (401): then the login view is shown. */
export async function loadSession(): Promise<Session | undefined> {
  try {
    const s = await get<Session>('/ui/session', { quiet401: true });
    csrf = s.csrf;
    return s;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return undefined;
    throw err;
  }
}

/** Exchanges the admin token for a session cookie; the token itself is not kept anywhere. */
export async function login(token: string): Promise<Session> {
  const s = await post<Session>('/ui/session', { token }, { quiet401: true });
  csrf = s.csrf;
  return s;
}

export async function logout(): Promise<void> {
  try {
    await del('/ui/session', { quiet401: true });
  } finally {
    csrf = undefined;
  }
}

/** A path segment, encoded (consumer ids may hold anything). */
export const seg = (s: string) => encodeURIComponent(s);
