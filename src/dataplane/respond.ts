// Gateway-generated responses: the standard JSON error, or a policy's literal answer.
import type { ServerResponse } from 'node:http';
import { ERRORS, errorBody, type ErrorCode } from '../errors.js';
import type { RespondVerdict } from '../policies/types.js';

/**
 * Everything the gateway answers itself, in one shape: a policy's verdict (`by` names the policy
 * type, for the access log's `rejectedBy`) or one of the gateway's own errors. `close` closes the
 * connection after the answer and serves nothing pipelined behind it (malformed input).
 */
export type Answer =
  | { kind: 'verdict'; verdict: RespondVerdict; by?: string | undefined }
  | { kind: 'error'; code: ErrorCode; headers?: Record<string, string>; close?: boolean; message?: string; status?: number };

export type ErrorAnswer = Extract<Answer, { kind: 'error' }>;

export interface ErrorOptions {
  headers?: Record<string, string>;
  /** Close the connection after this response (malformed input: nothing behind it is trusted). */
  close?: boolean;
  message?: string;
  status?: number;
}

export function sendError(res: ServerResponse, code: ErrorCode, requestId: string, opts?: ErrorOptions): void {
  const body = errorBody(code, requestId, opts?.message);
  if (opts?.close) res.shouldKeepAlive = false;
  res.writeHead(opts?.status ?? ERRORS[code].status, {
    ...lowerCased(opts?.headers),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
  });
  res.end(body);
}

export function sendVerdict(res: ServerResponse, v: RespondVerdict, requestId: string): void {
  if (v.code) {
    sendError(res, v.code, requestId, { status: v.status, headers: v.headers, message: v.message });
    return;
  }
  const body = v.body ?? '';
  res.writeHead(v.status, { ...lowerCased(v.headers), 'content-length': Buffer.byteLength(body), 'x-request-id': requestId });
  res.end(body);
}

/**
 * Header names from a config or a policy, lower-cased so that the gateway's own fields below them
 * replace rather than join them: `Content-Length` from a config beside the computed
 * `content-length` sent both, and clients refuse such a response.
 */
function lowerCased(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const name in headers) out[name.toLowerCase()] = headers[name]!;
  return out;
}
