// Which route a request takes. A path that matched with another method is 405 with Allow — unless
// it is a CORS preflight (OPTIONS with Access-Control-Request-Method) for a route whose policies
// answer preflights: it is then routed by the method it asks about, so that policy can answer it,
// and it is never forwarded (the exchange answers 405 with `preflightAllow` if nothing does).
import type { IncomingMessage } from 'node:http';
import type { CompiledRoute, Plan } from './plan.js';
import type { RouteMatch } from './router.js';
import type { ErrorAnswer } from './respond.js';
import { ANY_BODY, type BodyView } from './body-match.js';

export interface RouteFound {
  match: RouteMatch<CompiledRoute>;
  /** A preflight routed by the method it asks about: the `Allow` of its 405 if no policy answers it. */
  preflightAllow: string | undefined;
}

/** The route; `{ needsBody }` when a route with body conditions could win (route again with `body`). */
export function lookupRoute(
  plan: Plan,
  req: IncomingMessage,
  hostname: string,
  path: string,
  query: string,
  body?: BodyView,
): RouteFound | ErrorAnswer | { needsBody: true } {
  const found = plan.router.find(req.method!, hostname, path, req, query, body);
  if (found === undefined) return { kind: 'error', code: 'GW_ROUTE_NOT_FOUND' };
  // A route routing by the body could have won, but a bound kept it from reading enough of it.
  if ('unreadableBody' in found) return { kind: 'error', code: 'GW_PAYLOAD_TOO_LARGE' };
  if (!('allow' in found)) return 'needsBody' in found ? found : { match: found.match, preflightAllow: undefined };
  const allow = found.allow.join(', ');
  const asked = req.method === 'OPTIONS' ? req.headers['access-control-request-method'] : undefined;
  const pre = asked ? plan.router.find(asked.toUpperCase(), hostname, path, req, query, ANY_BODY) : undefined;
  if (pre === undefined || !('match' in pre) || !pre.match.entry.route.access.some((p) => p.answersPreflight === true)) {
    return { kind: 'error', code: 'GW_METHOD_NOT_ALLOWED', headers: { allow } };
  }
  return { match: pre.match, preflightAllow: allow };
}
