// One request's GraphQL operation as the `graphql` policy read it, kept in ctx.locals under a key
// this module owns: a `rate-limit` with `cost: graphql` charges its cost. The policy runs (class
// `authorise`) before any rate limit (class `limit`), in both the access and requestBody phases.
import type { RequestContext } from '../policies/types.js';
import type { Analysis } from './analyse.js';

const KEY = 'gatehouse:graphql-operation';
/**
 * The longest operation name recorded (metrics, analytics, access log, traces): a name is the
 * client's, as long as its document, and each distinct one is kept (analytics: up to 1000 a minute
 * for an hour).
 */
const MAX_NAME = 128;

export function setOperation(ctx: RequestContext, analysis: Analysis): void {
  ctx.locals.set(KEY, analysis);
  const name = analysis.name;
  ctx.operation = {
    protocol: 'graphql',
    type: analysis.type,
    name: name !== undefined && name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name,
  };
}

/** The analysed operation, or undefined when no `graphql` policy read one. */
export function getOperation(ctx: RequestContext): Analysis | undefined {
  return ctx.locals.get(KEY) as Analysis | undefined;
}
