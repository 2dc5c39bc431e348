// `retries.grpcStatuses` and `retries.grpcMethods`: retrying gRPC calls the service refused
// before answering (a trailers-only response whose grpc-status is listed, UNAVAILABLE typically).
// Part of `retries` (resilience-schema.ts); upstream/grpc-retry.ts applies it.
import { z } from 'zod';
import { GRPC_SERVICE_NAME } from './grpc-match.js';

/** The gRPC status codes by name (their numbers are their indexes). */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export const GrpcStatuses = z
  .array(z.union([z.enum(GRPC_STATUS_NAMES.slice(1) as [string, ...string[]]), z.number().int().min(1).max(16)]))
  .min(1)
  .optional()
  .meta({
    description:
      'gRPC statuses (names such as UNAVAILABLE, or numbers) that are retried when the service answers with one before any message (trailers-only), for the methods in grpcMethods only.',
  });

const GrpcMethodPath = z.string().refine(
  (p) => {
    const m = /^\/([^/]+)\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(p);
    return m !== null && GRPC_SERVICE_NAME.test(m[1]!);
  },
  { error: 'expected a gRPC method path such as "/pkg.Service/GetUser"' },
);

export const GrpcMethods = z.array(GrpcMethodPath).default([]).meta({
  description:
    'Unary gRPC methods that are safe to call twice, as paths ("/pkg.Service/GetUser"): their calls are retried like the methods in `methods` (their request, one message, is kept up to retryBodyLimit).',
});

/** The numbers of the statuses a config lists. */
export function grpcStatusNumbers(list: readonly (string | number)[]): number[] {
  return list.map((s) => (typeof s === 'number' ? s : GRPC_STATUS_NAMES.indexOf(s as (typeof GRPC_STATUS_NAMES)[number])));
}
