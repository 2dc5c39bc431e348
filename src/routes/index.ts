// Every route kind a route can be instead of a proxy to one service. The exchange and the plan
// know kinds only through this list and the contract in types.ts.
import type { RouteKindDefinition } from './types.js';
import { composeKind } from './compose/compose.js';
import { batchKind } from './batch/batch.js';
import { graphqlKind } from './graphql/graphql.js';

export type { RouteKindDefinition, RouteHandler } from './types.js';

export const ROUTE_KINDS: readonly RouteKindDefinition[] = [composeKind, batchKind, graphqlKind];

/** The kind a route config names (its key present), or undefined for a service route. */
export function routeKindOf(route: object): { def: RouteKindDefinition; config: unknown } | undefined {
  for (const def of ROUTE_KINDS) {
    const config = (route as Record<string, unknown>)[def.key];
    if (config !== undefined) return { def, config };
  }
  return undefined;
}
