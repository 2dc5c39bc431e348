// `match.grpc` compiled (config/grpc-match.ts says why it is paths plus conditions): the route's
// path patterns, a content-type condition, and POST as the method when the route names none.
import { GRPC_CONTENT_TYPE, grpcPaths, type GrpcMatchConfig } from '../config/grpc-match.js';
import type { ValueMatcher } from './router.js';

/** The condition every `match.grpc` route adds: the request's content-type is gRPC. */
export const GRPC_REQUEST: ValueMatcher = {
  name: 'content-type',
  describe: 'content-type is gRPC (application/grpc[+…])',
  test: (v) => v != null && GRPC_CONTENT_TYPE.test(v),
};

export interface GrpcRouteMatch {
  paths: string[];
  methods: string[];
  headers: ValueMatcher[];
}

/** What a route's match says once `grpc` is spelt out (its `paths` were checked to be the default). */
export function withGrpc(m: {
  paths: string[];
  methods?: string[] | undefined;
  grpc?: GrpcMatchConfig | undefined;
}): GrpcRouteMatch | undefined {
  if (m.grpc === undefined) return undefined;
  return { paths: grpcPaths(m.grpc), methods: m.methods ?? ['POST'], headers: [GRPC_REQUEST] };
}
