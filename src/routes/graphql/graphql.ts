// The `graphql` route kind: REST in front of GraphQL. The route runs one fixed operation (parsed
// and checked with the config: compile.ts) on a GraphQL service, with variables rendered from the
// request and converted to the types the operation declares (coerce.ts), and answers with the
// operation's data (answer.ts). The request goes out through the data plane's `fetch`: the
// service's balancer, retries, breaker, concurrency limit, identity headers and tracing apply.
import type { GraphqlRouteConfig } from '../../config/graphql-route-schema.js';
import { isJsonType } from '../../policies/transform/json-text.js';
import { asText } from '../../policies/transform/template.js';
import type { HeaderList } from '../../policies/types.js';
import type { RouteAnswer, RouteCall, RouteHandler, RouteKindDefinition } from '../types.js';
import { MAX_JSON_DEPTH, nestedDeeper, validHeaderValue } from '../compose/guards.js';
import { compileGraphql, type CompiledGraphql } from './compile.js';
import { coerce, emptyMeansMissing } from './coerce.js';
import { graphqlAnswer } from './answer.js';

export const graphqlKind: RouteKindDefinition = {
  key: 'graphql',
  check(config, services) {
    const compiled = compileGraphql(config as GraphqlRouteConfig, services);
    return Array.isArray(compiled) ? compiled : [];
  },
  create(config, env) {
    const compiled = compileGraphql(config as GraphqlRouteConfig, new Set(Object.keys(env.config.services)));
    if (Array.isArray(compiled)) throw new Error(`route ${env.routeName}: graphql.${compiled[0]!.path}: ${compiled[0]!.message}`); // validation reports these first
    return new GraphqlHandler(compiled);
  },
};

class GraphqlHandler implements RouteHandler {
  readonly maxBodyBytes: number;

  constructor(private readonly c: CompiledGraphql) {
    this.maxBodyBytes = c.maxRequestBodyBytes;
  }

  async handle(call: RouteCall): Promise<RouteAnswer> {
    const c = this.c;
    let clientBody: unknown;
    if (c.readsBody && call.body !== null && call.body.length > 0) {
      const type = call.ctx.req.headers['content-type'] ?? '';
      if (!isJsonType(type))
        return { error: 'GW_BAD_BODY', message: 'This route reads a JSON request body (Content-Type: application/json).' };
      try {
        clientBody = JSON.parse(call.body.toString('utf8')) as unknown;
      } catch {
        return { error: 'GW_BAD_BODY', message: 'The request body is not valid JSON.' };
      }
      if (nestedDeeper(clientBody))
        return { error: 'GW_BAD_BODY', message: `The request body nests deeper than ${MAX_JSON_DEPTH} levels.` };
    }
    const scope = { body: clientBody };
    // No prototype: a variable may be called __proto__ (a GraphQL name), and must stay a plain key.
    const variables = Object.create(null) as Record<string, unknown>;
    for (const v of c.variables) {
      const raw = v.value(call.ctx, scope);
      if (raw === undefined || emptyMeansMissing(v.type, raw)) {
        if (!v.required) continue; // the service uses the variable's default, or none
        return {
          error: 'GW_BAD_REQUEST',
          message: `The variable $${v.name} (${v.typeText}) is required, and ${v.source} has no value.`,
          details: { variable: v.name, type: v.typeText, from: v.source },
        };
      }
      const out = coerce(raw, v.type);
      if (!out.ok)
        return {
          error: 'GW_BAD_REQUEST',
          message: `The variable $${v.name} (${v.typeText}) cannot take the value of ${v.source}: ${out.reason}.`,
          details: { variable: v.name, type: v.typeText, from: v.source, reason: out.reason },
        };
      variables[v.name] = out.value;
    }
    const headers: HeaderList = [];
    for (const [k, v] of c.headers) {
      const value = v(call.ctx, scope);
      if (value === undefined || value === null) continue;
      const text = asText(value);
      // A value no field can carry (CR, LF, other controls, beyond Latin-1) is left out, as a missing one.
      if (text !== '' && validHeaderValue(text)) headers.push(k, text);
    }
    headers.push(
      'content-type',
      'application/json',
      'accept',
      'application/graphql-response+json, application/json;q=0.9',
      'accept-encoding',
      'identity', // the answer is parsed here
    );
    const body = JSON.stringify({
      query: c.document,
      ...(c.operationName === undefined ? {} : { operationName: c.operationName }),
      variables,
    });
    const r = await call.fetch({
      service: c.service,
      label: c.operationName ?? 'graphql',
      method: 'POST',
      path: c.path,
      query: '',
      headers,
      body: Buffer.from(body),
      timeoutMs: c.timeoutMs,
      maxBodyBytes: c.maxBodyBytes,
    });
    return graphqlAnswer(c, r);
  }
}
