// The service's GraphQL schema, from an SDL file (read and built when the config is compiled: a
// bad file is a config error with its line) or from the service itself by introspection (started
// when the policy is created; until it answers, and while it fails, operations are checked
// without a schema — limits still apply — and it is retried with backoff).
import { readFileSync } from 'node:fs';
import { buildClientSchema, buildSchema, getIntrospectionQuery, GraphQLError, validateSchema, type GraphQLSchema } from 'graphql';
import { request } from 'undici';
import type { Logger } from '../../observability/logger.js';
import { parseDuration } from '../../config/units.js';
import type { GraphQLPolicyConfig } from './schema.js';

type Source = NonNullable<GraphQLPolicyConfig['schema']>;

/** The most bytes of an introspection answer read. */
const MAX_INTROSPECTION_BYTES = 16 * 1024 * 1024;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;

export type SdlResult = { ok: true; schema: GraphQLSchema } | { ok: false; message: string };

// validate() and create() get the same parsed entry: the file is read and built once for both.
const built = new WeakMap<object, SdlResult>();

/** The schema of `{ file }`, or why there is none (a config issue). */
export function schemaFromFile(source: { file: string }): SdlResult {
  let r = built.get(source);
  if (r === undefined) {
    r = buildFromFile(source.file);
    built.set(source, r);
  }
  return r;
}

function buildFromFile(file: string): SdlResult {
  let sdl: string;
  try {
    sdl = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` };
  }
  try {
    const schema = buildSchema(sdl);
    const problems = validateSchema(schema);
    if (problems.length > 0) return { ok: false, message: `${file}: ${located(problems[0]!)}` };
    return { ok: true, schema };
  } catch (err) {
    // Syntax errors are GraphQLErrors with a location; graphql's SDL validation throws a plain
    // Error listing its problems (without locations: its public API offers no other way).
    if (err instanceof GraphQLError) return { ok: false, message: `${file}: ${located(err)}` };
    return { ok: false, message: `${file}: ${(err as Error).message.split('\n\n').slice(0, 3).join('; ')}` };
  }
}

function located(e: GraphQLError): string {
  const at = e.locations?.[0];
  return at ? `${e.message} (line ${at.line}, column ${at.column})` : e.message;
}

/** Where the policy's schema comes from; `current()` is what operations are validated against now. */
export interface SchemaHolder {
  current(): GraphQLSchema | undefined;
  /** Settles when the first load is done (loaded or failed). */
  readonly ready: Promise<void>;
  close(): void;
}

export function schemaHolder(source: Source | undefined, log: Logger): SchemaHolder {
  if (source === undefined) return { current: () => undefined, ready: Promise.resolve(), close: () => undefined };
  if ('file' in source) {
    const r = schemaFromFile(source);
    const schema = r.ok ? r.schema : undefined; // validation refused a config without it
    return { current: () => schema, ready: Promise.resolve(), close: () => undefined };
  }
  return new Introspected(source, log);
}

class Introspected implements SchemaHolder {
  private schema: GraphQLSchema | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;
  readonly ready: Promise<void>;

  constructor(
    private readonly source: Extract<Source, { url: string }>,
    private readonly log: Logger,
  ) {
    this.ready = this.load();
  }

  current(): GraphQLSchema | undefined {
    return this.schema;
  }

  private async load(): Promise<void> {
    try {
      this.schema = await introspect(this.source);
      this.failures = 0;
      this.log.info({ url: this.source.url }, 'graphql: schema loaded by introspection');
    } catch (err) {
      if (this.closed) return;
      // Logged on the first failure and then every tenth: a service that stays down does not flood the log.
      if (this.failures % 10 === 0)
        this.log.warn(
          { url: this.source.url, err: (err as Error).message },
          'graphql: introspection failed; operations are checked without a schema',
        );
      const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.failures, 10));
      this.failures++;
      this.timer = setTimeout(() => void this.load(), wait);
      this.timer.unref();
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

async function introspect(source: Extract<Source, { url: string }>): Promise<GraphQLSchema> {
  const timeout = parseDuration(source.timeout);
  const res = await request(source.url, {
    method: 'POST',
    headers: { ...source.headers, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: getIntrospectionQuery() }),
    headersTimeout: timeout,
    bodyTimeout: timeout,
    signal: AbortSignal.timeout(timeout),
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INTROSPECTION_BYTES) {
      res.body.destroy();
      throw new Error(`the introspection answer is larger than ${MAX_INTROSPECTION_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  if (res.statusCode !== 200) throw new Error(`the service answered ${res.statusCode}`);
  const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: unknown; errors?: { message?: unknown }[] };
  if (doc.data === null || typeof doc.data !== 'object')
    throw new Error(`no introspection data${doc.errors?.[0] ? `: ${String(doc.errors[0].message)}` : ''}`);
  const schema = buildClientSchema(doc.data as Parameters<typeof buildClientSchema>[0]);
  const problems = validateSchema(schema);
  if (problems.length > 0) throw new Error(`the introspected schema is not valid: ${problems[0]!.message}`);
  return schema;
}
