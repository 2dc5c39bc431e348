// One request's GraphQL operation as the `graphql` policy read it, kept in ctx.locals under a key
// this module owns: a `rate-limit` with `cost: graphql` charges its cost. The policy runs (class
// `authorise`) before any rate limit (class `limit`), in both the access and requestBody phases.
import type { RequestContext } from '../policies/types.js';
import type { Analysis } from './analyse.js';
import { operationName } from '../observability/request-record.js';

const KEY = 'gatehouse:graphql-operation';

export function setOperation(ctx: RequestContext, analysis: Analysis): void {
  ctx.locals.set(KEY, analysis);
  ctx.operation = { protocol: 'graphql', type: analysis.type, name: operationName(analysis.name) };
}

/** The analysed operation, or undefined when no `graphql` policy read one. */
export function getOperation(ctx: RequestContext): Analysis | undefined {
  return ctx.locals.get(KEY) as Analysis | undefined;
}
