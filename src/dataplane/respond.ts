// Gateway-generated responses: the standard JSON error, or a policy's literal answer.
import type { ServerResponse } from 'node:http';
import { ERRORS, errorBody, type ErrorCode } from '../errors.js';
import type { RespondVerdict } from '../policies/types.js';
import { grpcAnswerType, sendGrpcRefusal, verdictPassesAsIs, verdictRefusal } from './grpc.js';

/**
 * Everything the gateway answers itself, in one shape: a policy's verdict (`by` names the policy
 * type, for the access log's `rejectedBy`) or one of the gateway's own errors. `close` closes the
 * connection after the answer and serves nothing pipelined behind it (malformed input).
 */
export type Answer =
  | { kind: 'verdict'; verdict: RespondVerdict; by?: string | undefined }
  | {
      kind: 'error';
      code: ErrorCode;
      headers?: Record<string, string>;
      close?: boolean;
      message?: string;
      status?: number;
      /** JSON-serialisable details in the error body (e.g. validation errors). */
      details?: unknown;
    };

export type ErrorAnswer = Extract<Answer, { kind: 'error' }>;

/** The answer closes the connection: nothing pipelined behind it may be served. */
export function closesConnection(a: Answer): boolean {
  return a.kind === 'error' ? a.close === true : a.verdict.headers?.connection === 'close';
}

/**
 * Sends an answer with the configured Server header and the headers earlier policies want on
 * every answer of the request (`extra`, [name, value, …]): a verdict's own headers win over them,
 * they win over an error's. Returns the grpc-status sent when the answer went to a gRPC call.
 */
export function sendAnswer(
  res: ServerResponse,
  a: Answer,
  requestId: string,
  serverHeader: string | undefined,
  extra: readonly string[] | undefined,
): number | undefined {
  if (serverHeader !== undefined) res.setHeader('server', serverHeader);
  if (a.kind === 'verdict') {
    const v = a.verdict;
    // A refusal of a gRPC call, even one with a literal body in another protocol's format, is
    // answered as gRPC does (grpc.ts); a policy's own gRPC answer or a non-refusal goes as it is.
    const grpcType = verdictPassesAsIs(v) ? undefined : grpcAnswerType(res.req);
    if (grpcType !== undefined) {
      const headers = extra === undefined ? v.headers : { ...headerRecord(extra), ...v.headers };
      return sendGrpcRefusal(res, { ...verdictRefusal(v), headers }, requestId, grpcType);
    }
    return sendVerdict(res, extra === undefined ? v : { ...v, headers: { ...headerRecord(extra), ...v.headers } }, requestId);
  }
  const headers = extra === undefined ? a.headers : { ...a.headers, ...headerRecord(extra) };
  return sendError(res, a.code, requestId, { headers, close: a.close, message: a.message, status: a.status, details: a.details });
}

function headerRecord(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

export interface ErrorOptions {
  headers?: Record<string, string>;
  /** Close the connection after this response (malformed input: nothing behind it is trusted). */
  close?: boolean;
  message?: string;
  status?: number;
  details?: unknown;
}

/** Returns the grpc-status sent when the request was a gRPC call (grpc.ts), else undefined. */
export function sendError(res: ServerResponse, code: ErrorCode, requestId: string, opts?: ErrorOptions): number | undefined {
  if (opts?.close) res.shouldKeepAlive = false;
  // Every error the gateway answers comes here: a gRPC client gets it as a gRPC status (grpc.ts).
  const grpcType = grpcAnswerType(res.req);
  if (grpcType !== undefined) {
    return sendGrpcRefusal(
      res,
      { code, status: opts?.status ?? ERRORS[code].status, message: opts?.message, headers: opts?.headers },
      requestId,
      grpcType,
    );
  }
  const body = errorBody(code, requestId, opts?.message, opts?.details);
  res.writeHead(opts?.status ?? ERRORS[code].status, {
    ...lowerCased(opts?.headers),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
  });
  res.end(body);
  return undefined;
}

export function sendVerdict(res: ServerResponse, v: RespondVerdict, requestId: string): number | undefined {
  if (v.code && v.body === undefined) {
    return sendError(res, v.code, requestId, { status: v.status, headers: v.headers, message: v.message, details: v.details });
  }
  const body = v.body ?? '';
  res.writeHead(v.status, { ...lowerCased(v.headers), 'content-length': Buffer.byteLength(body), 'x-request-id': requestId });
  res.end(body);
  return undefined;
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
