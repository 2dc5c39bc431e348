// `match.grpc`: routing by gRPC service and method. A gRPC call is an HTTP/2 POST to
// `/<package>.<Service>/<Method>` with a content-type of `application/grpc` (or `+proto`,
// `+json`, …), so the condition compiles to path patterns and a content-type condition the router
// already knows (dataplane/plan.ts): nothing is decided per request that was not decided here.
import { z } from 'zod';

/** A proto identifier: letters, digits and underscores, not starting with a digit. */
const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
/** A fully-qualified service name: `pkg.sub.Service` (a service without a package is allowed). */
export const GRPC_SERVICE_NAME = new RegExp(`^${IDENT}(?:\\.${IDENT})*$`);
const GRPC_METHOD_NAME = new RegExp(`^${IDENT}$`);

/**
 * The content-types of gRPC (the gRPC over HTTP/2 spec): `application/grpc`, alone or followed by
 * `+` or `;` and anything, in any case. As wide as the servers are (grpc-go and grpc-java take
 * "application/grpc+" as proto, and do not check what follows): a call one of them serves must not
 * miss the gRPC route for another that reaches the same server. `application/grpc-web…` is
 * another protocol and does not match.
 */
export const GRPC_CONTENT_TYPE = /^application\/grpc(?:$|[+;])/i;

/** The content-types of gRPC-Web (its spec): `application/grpc-web` and `application/grpc-web-text` (base64), alone or with `+…`/`;…`. */
export const GRPC_WEB_CONTENT_TYPE = /^application\/grpc-web(-text)?(?:$|[+;])/i;

const ServiceName = z.string().regex(GRPC_SERVICE_NAME, { error: 'expected a fully-qualified gRPC service name such as "pkg.Service"' });
const MethodName = z.string().regex(GRPC_METHOD_NAME, { error: 'expected a gRPC method name such as "GetUser"' });

export const GrpcMatch = z
  .strictObject({
    service: z
      .union([ServiceName, z.array(ServiceName).min(1)])
      .meta({ description: 'The fully-qualified service name (`pkg.Service`), or a list of them.' }),
    method: z
      .union([MethodName, z.array(MethodName).min(1)])
      .optional()
      .meta({ description: 'The method (or methods) of the service(s); absent: every method.' }),
  })
  .meta({
    description:
      'Route gRPC calls by service and method: compiles to the paths `/pkg.Service/Method` (or `/pkg.Service/*`) of POST requests whose content-type is gRPC. Replaces `match.paths` (the two are not combined).',
  });
export type GrpcMatchConfig = z.output<typeof GrpcMatch>;

/** The path patterns a `match.grpc` stands for, in the order written. */
export function grpcPaths(m: GrpcMatchConfig): string[] {
  const services = typeof m.service === 'string' ? [m.service] : m.service;
  const methods = m.method === undefined ? undefined : typeof m.method === 'string' ? [m.method] : m.method;
  return services.flatMap((s) => (methods === undefined ? [`/${s}/*`] : methods.map((x) => `/${s}/${x}`)));
}

/** A `match.paths` written next to `match.grpc` (anything but the default `/*`): a config error. */
export function grpcPathsConflict(paths: readonly string[], grpc: GrpcMatchConfig | undefined): boolean {
  return grpc !== undefined && !(paths.length === 1 && paths[0] === '/*');
}
