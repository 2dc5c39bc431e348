// What routing by GraphQL operation (`match.graphql`) reads of a request: the operation's type,
// name and root fields, from a POST's JSON body or a GET's parameters. Parsed through one bounded
// cache for the data plane's routing (a route's `graphql` policy keeps its own, with its limits).
// A request that is not GraphQL, or whose document does not parse, has no facts: it matches no
// such route (and its own route's policy, if any, refuses it precisely).
import type { DocumentNode } from 'graphql';
import { analyse, type CostModel } from './analyse.js';
import { ParseCache } from './parse-cache.js';
import { paramsFromBody, paramsFromQuery, type ParamsResult } from './request.js';
import type { GraphQLMatchConfig } from '../config/graphql-match.js';

export interface OperationFacts {
  readonly type: string;
  readonly name: string | undefined;
  readonly rootFields: readonly string[];
}

/** Routing never reads a document larger than the payload-routing bound; tokens are bounded too. */
const MAX_TOKENS = 20_000;
const cache = new ParseCache({ maxEntries: 1000, maxBytes: 32 * 1024 * 1024 });
const NO_COSTS: CostModel = { objectCost: 0, scalarCost: 0, listArguments: [], defaultListSize: 1, fields: new Map() };
/** Facts per document and operation name (the client's: at most a few per document). */
const known = new WeakMap<DocumentNode, Map<string, OperationFacts | null>>();

/**
 * Routing could not read the operation because of a bound (the body is larger than
 * `server.maxBodyForMatch`, or the document has more than MAX_TOKENS tokens): a condition on it
 * can neither hold nor fail, and routing refuses the request rather than fall through to another
 * route (where a mutation hidden in a large body would reach the service of the reads).
 */
export const UNREADABLE = 'unreadable';

export function operationFacts(
  method: string,
  body: Buffer | undefined,
  contentType: string,
  rawQuery: string,
): OperationFacts | undefined | typeof UNREADABLE {
  let read: ParamsResult;
  if (method === 'GET' || method === 'HEAD') read = paramsFromQuery(rawQuery);
  else if (method === 'POST') {
    if (body === undefined) return UNREADABLE;
    read = paramsFromBody(body, contentType);
  } else return undefined;
  if (!read.ok || read.params.query === undefined) return undefined;
  const parsed = cache.parse(read.params.query, MAX_TOKENS);
  if (!parsed.ok) return parsed.tooManyTokens ? UNREADABLE : undefined;
  const name = read.params.operationName;
  let byName = known.get(parsed.document);
  const hit = byName?.get(name ?? '');
  if (hit !== undefined) return hit ?? undefined;
  const r = analyse(parsed.document, name, undefined, NO_COSTS);
  const facts = r.ok ? { type: r.analysis.type, name: r.analysis.name, rootFields: r.analysis.rootFieldNames } : null;
  if (byName === undefined) known.set(parsed.document, (byName = new Map<string, OperationFacts | null>()));
  if (byName.size < 64) byName.set(name ?? '', facts);
  return facts ?? undefined;
}

export interface OperationMatcher {
  describe: string;
  test(facts: OperationFacts | undefined): boolean;
}

/** `match.graphql`: one condition per key; a request without a GraphQL operation (`undefined`) holds none. */
export function operationMatchers(m: GraphQLMatchConfig): OperationMatcher[] {
  const out: OperationMatcher[] = [];
  if (m.operationType !== undefined) {
    const types = typeof m.operationType === 'string' ? [m.operationType] : m.operationType;
    out.push({
      describe: `graphql operation type in [${types.join(', ')}]`,
      test: (f) => f !== undefined && types.includes(f.type as never),
    });
  }
  const name = m.operationName;
  if (name !== undefined) {
    if (typeof name === 'object' && !Array.isArray(name)) {
      const re = new RegExp(name.regex);
      out.push({
        describe: `graphql operation name ~ /${name.regex}/`,
        test: (f) => f?.name !== undefined && re.test(f.name),
      });
    } else {
      const names = typeof name === 'string' ? [name] : name;
      out.push({
        describe: `graphql operation name in [${names.join(', ')}]`,
        test: (f) => f?.name !== undefined && names.includes(f.name),
      });
    }
  }
  if (m.rootFields !== undefined) {
    const fields = new Set(m.rootFields);
    out.push({
      describe: `graphql root fields within [${m.rootFields.join(', ')}]`,
      test: (f) => f !== undefined && f.rootFields.length > 0 && f.rootFields.every((name) => fields.has(name)),
    });
  }
  return out;
}
