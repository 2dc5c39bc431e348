// Payload routing at request time (`match.body`, config/body-match.ts). The router asks for the
// body only when a candidate route with body conditions could win; the exchange then reads up to
// `server.maxBodyForMatch` (readBodyForMatch) and routes again with a BodyView. A body that is not
// JSON (or not a form), or is larger than the bound, matches no condition of that kind; either way
// the body is forwarded unchanged.
import type { IncomingMessage } from 'node:http';
import { parseBodyKey, type BodyConditionConfig, type BodyPathStep } from '../config/body-match.js';
import { PassThrough, type Readable } from 'node:stream';
import type { ScannedHeaders } from './forwarding.js';
import type { ServerLimits } from '../edge/server-limits.js';
import { armBodyTimeout, hasBody, readUpTo, type BoundedRead } from './request-body.js';
import type { GraphQLMatchConfig } from '../config/graphql-match.js';
import { operationFacts, operationMatchers, UNREADABLE, type OperationFacts } from '../graphql/route-facts.js';

const NOT_READ = Symbol('not-read');

/** The request body as body conditions see it: parsed at most once, lazily. */
export class BodyView {
  private jsonValue: unknown = NOT_READ;
  private formValue: URLSearchParams | undefined | typeof NOT_READ = NOT_READ;
  private graphqlValue: OperationFacts | undefined | typeof UNREADABLE | typeof NOT_READ = NOT_READ;

  constructor(
    /** The whole body, or undefined when it was larger than the bound. */
    readonly bytes: Buffer | undefined,
    private readonly contentType: string,
    /** The request's method and raw query string: a GraphQL GET carries its operation there. */
    private readonly method = 'POST',
    private readonly rawQuery = '',
  ) {}

  /** The GraphQL operation the request carries; undefined when it carries none that parses. */
  get graphql(): OperationFacts | undefined {
    const v = this.graphqlFacts();
    return v === UNREADABLE ? undefined : v;
  }

  /** The request carries a GraphQL operation routing could not read within its bounds. */
  get graphqlUnreadable(): boolean {
    return this.graphqlFacts() === UNREADABLE;
  }

  private graphqlFacts(): OperationFacts | undefined | typeof UNREADABLE {
    if (this.graphqlValue === NOT_READ) this.graphqlValue = operationFacts(this.method, this.bytes, this.contentType, this.rawQuery);
    return this.graphqlValue;
  }

  /** The parsed JSON body; NO_JSON when there is none (not JSON, too large, malformed). */
  get json(): unknown {
    if (this.jsonValue === NOT_READ) {
      this.jsonValue = NO_JSON;
      if (this.bytes !== undefined && isJsonType(this.contentType)) {
        try {
          this.jsonValue = JSON.parse(this.bytes.toString('utf8')) as unknown;
        } catch {
          /* not JSON: no JSON condition holds */
        }
      }
    }
    return this.jsonValue;
  }

  get form(): URLSearchParams | undefined {
    if (this.formValue === NOT_READ) {
      this.formValue =
        this.bytes !== undefined && mediaType(this.contentType) === 'application/x-www-form-urlencoded'
          ? new URLSearchParams(this.bytes.toString('utf8'))
          : undefined;
    }
    return this.formValue;
  }
}

/**
 * For a CORS preflight, routed by the method it asks about: it has no body, and the request it
 * announces may match any route's body conditions, so they all hold.
 */
export const ANY_BODY = new BodyView(undefined, '');

export interface BodyMatcher {
  describe: string;
  test(body: BodyView): boolean;
  /** The condition cannot be decided on this body (a bound stopped it being read): routing refuses it (413). */
  unreadable?(body: BodyView): boolean;
}

const ABSENT = Symbol('absent');
const NOT_THIS_KIND = Symbol('not-this-kind');
/** `BodyView.json` of a body that is not JSON (none, another type, malformed, too large). */
export const NO_JSON = Symbol('no-json');

export function compileBodyMatchers(spec: Record<string, BodyConditionConfig> | undefined, graphql?: GraphQLMatchConfig): BodyMatcher[] {
  const out: BodyMatcher[] =
    graphql === undefined
      ? []
      : operationMatchers(graphql).map((m) => ({
          describe: m.describe,
          test: (b) => m.test(b.graphql),
          unreadable: (b) => b.graphqlUnreadable,
        }));
  if (spec === undefined) return out;
  return out.concat(bodyMatchers(spec));
}

function bodyMatchers(spec: Record<string, BodyConditionConfig>): BodyMatcher[] {
  return Object.entries(spec).map(([key, cond]) => {
    const parsed = parseBodyKey(key);
    if (typeof parsed === 'string') throw new Error(parsed); // validation refused it already
    // A body of the other kind (not JSON, not a form, too large, none) holds no condition, `present: false` included.
    const read =
      parsed.kind === 'json'
        ? (b: BodyView): unknown => {
            const doc = b.json;
            return doc === NO_JSON ? NOT_THIS_KIND : walk(doc, parsed.steps);
          }
        : (b: BodyView): unknown => {
            const form = b.form;
            return form === undefined ? NOT_THIS_KIND : form.has(parsed.name) ? form.get(parsed.name) : ABSENT;
          };
    const { describe, holds } = condition(key, cond);
    return {
      describe,
      test: (b) => {
        const v = read(b);
        return v !== NOT_THIS_KIND && holds(v);
      },
    };
  });
}

function condition(key: string, cond: BodyConditionConfig): { describe: string; holds: (v: unknown) => boolean } {
  if (cond === null || typeof cond !== 'object') return { describe: `body ${key} = ${JSON.stringify(cond)}`, holds: (v) => v === cond };
  if ('regex' in cond) {
    const re = new RegExp(cond.regex);
    return { describe: `body ${key} ~ /${cond.regex}/`, holds: (v) => typeof v === 'string' && re.test(v) };
  }
  if ('present' in cond) {
    const want = cond.present;
    return { describe: `body ${key} ${want ? 'present' : 'absent'}`, holds: (v) => (v !== ABSENT) === want };
  }
  const set = cond.oneOf;
  return { describe: `body ${key} in ${JSON.stringify(set)}`, holds: (v) => set.some((x) => x === v) };
}

function walk(doc: unknown, steps: readonly BodyPathStep[]): unknown {
  let at: unknown = doc;
  for (const step of steps) {
    if (typeof step === 'number') {
      if (!Array.isArray(at) || step >= at.length) return ABSENT;
      at = at[step];
    } else {
      if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, step)) return ABSENT;
      at = (at as Record<string, unknown>)[step];
    }
  }
  return at;
}

function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function isJsonType(contentType: string): boolean {
  const t = mediaType(contentType);
  return t === 'application/json' || t.endsWith('+json');
}

/**
 * Reads up to `limits.maxBodyForMatch` bytes of the body. A larger one stops being read (paused)
 * with what was read: the caller forwards those chunks, then the rest of `req` (prefixed()).
 */
export function readForMatch(req: IncomingMessage, scan: ScannedHeaders, limits: ServerLimits, done: (read: BoundedRead) => void): void {
  if (!hasBody(scan)) return done({ whole: Buffer.alloc(0) });
  armBodyTimeout(req, limits.bodyIdleTimeout);
  readUpTo(req, scan, limits.maxBodyForMatch, [], done);
}

/** `chunks`, then the rest of `rest` (a request paused after payload routing read them). */
export function prefixed(chunks: readonly Buffer[], rest: Readable): Readable {
  const out = new PassThrough();
  for (const c of chunks) out.write(c);
  // A client that goes away mid-body: the upstream call sees its body fail, as with the request itself.
  rest.once('close', () => {
    if (!rest.readableEnded) out.destroy(new Error('the client went away during the body'));
  });
  rest.pipe(out);
  return out;
}
