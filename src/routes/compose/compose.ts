// The `compose` route kind: a composite route (backend-for-frontend). Its calls are compiled with
// the config (compile.ts), run per request (run.ts) and their answers composed into one
// (answer.ts). The calls go out through the data plane's `fetch`: each one through its service's
// balancer, health checks, retries, circuit breaker and concurrency limit, with the identity the
// route's authentication set, as one client span of the request's trace.
import { isJsonType } from '../../policies/transform/json-text.js';
import type { ComposeConfig } from '../../config/compose-schema.js';
import type { RouteAnswer, RouteCall, RouteHandler, RouteKindDefinition } from '../types.js';
import { compileCompose, type CompiledCompose } from './compile.js';
import { runCalls } from './run.js';
import { composeAnswer } from './answer.js';
import { compileReshape, reshapeIssue, type Reshape } from '../../policies/transform/reshape.js';
import { parseDuration } from '../../config/units.js';
import type { Logger } from '../../observability/logger.js';
import { MAX_JSON_DEPTH, nestedDeeper } from './guards.js';

export const composeKind: RouteKindDefinition = {
  key: 'compose',
  check(config, services) {
    const cfg = config as ComposeConfig;
    const compiled = compileCompose(cfg, services);
    const issues = Array.isArray(compiled) ? compiled : [];
    if (cfg.reshape !== undefined) {
      const issue = reshapeIssue(cfg.reshape);
      if (issue !== undefined) issues.push({ path: 'reshape', message: issue });
    }
    return issues;
  },
  create(config, env) {
    const cfg = config as ComposeConfig;
    const compiled = compileCompose(cfg, new Set(Object.keys(env.config.services)));
    if (Array.isArray(compiled)) throw new Error(`route ${env.routeName}: compose.${compiled[0]!.path}: ${compiled[0]!.message}`); // validation reports these first
    const reshape = cfg.reshape === undefined ? undefined : compileReshape(cfg.reshape, { timeout: parseDuration(cfg.reshapeTimeout) });
    return new ComposeHandler(compiled, reshape, env.log);
  },
};

class ComposeHandler implements RouteHandler {
  readonly maxBodyBytes: number;

  constructor(
    private readonly c: CompiledCompose,
    private readonly reshape: Reshape | undefined,
    private readonly log: Logger,
  ) {
    this.maxBodyBytes = c.maxRequestBodyBytes;
  }

  async handle(call: RouteCall): Promise<RouteAnswer> {
    let clientBody: unknown;
    if (this.c.readsBody && call.body !== null && call.body.length > 0) {
      const type = call.ctx.req.headers['content-type'] ?? '';
      if (!isJsonType(type))
        return {
          error: 'GW_BAD_BODY' as const,
          message: 'This composite route reads a JSON request body (Content-Type: application/json).',
        };
      try {
        clientBody = JSON.parse(call.body.toString('utf8')) as unknown;
      } catch {
        return { error: 'GW_BAD_BODY' as const, message: 'The request body is not valid JSON.' };
      }
      if (nestedDeeper(clientBody))
        return { error: 'GW_BAD_BODY' as const, message: `The request body nests deeper than ${MAX_JSON_DEPTH} levels.` };
    }
    const run = await runCalls(this.c, call, clientBody);
    // The client went away: nobody reads an answer, so none is composed (a reshape costs CPU).
    if (run.cancelled) return { error: 'GW_COMPOSE_CALL_FAILED', message: 'The client went away.' };
    return composeAnswer(this.c, run, call.ctx, this.reshape, this.log);
  }
}
