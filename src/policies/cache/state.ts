// One request's dealings with the cache, kept in its ctx.locals from the access phase to the log.
import type { RequestContext } from '../types.js';
import type { CacheEntry } from '../../store/cache/types.js';
import type { Judged } from './freshness.js';
import type { Lead } from './coalesce.js';

const STATE = 'cache';

/** One request's dealings with the cache, in ctx.locals. */
export interface State {
  key: string;
  requestTime: number;
  /** Cache-Status's parameters after the cache's name, and the access log's word. */
  status: string;
  word: string;
  /** A stored response that may still answer: revalidated, or stale on an error. */
  entry: CacheEntry | undefined;
  judged: Judged | undefined;
  revalidate: boolean;
  lead: Lead | undefined;
  requestNoStore: boolean;
  invalidate: boolean;
  /** The query as the client sent it: an auth policy may take its credential out before the request goes on. */
  query: string;
}

/** A request's state from now on: `key` ('' when the cache stays out of it), its Cache-Status and log word so far. */
export function beginState(ctx: RequestContext, key: string, status: string, word: string): State {
  const st: State = {
    key,
    requestTime: Date.now(),
    status,
    word,
    entry: undefined,
    judged: undefined,
    revalidate: false,
    lead: undefined,
    requestNoStore: false,
    invalidate: false,
    query: ctx.query,
  };
  ctx.locals.set(STATE, st);
  return st;
}

export function stateOf(ctx: RequestContext): State | undefined {
  return ctx.locals.get(STATE) as State | undefined;
}
