// A JWKS fetched from `jwksUri` (or found by OIDC discovery from the issuer), cached. jose's own
// remote set cannot serve stale keys while the endpoint fails, so this keeps the fetching and
// uses jose only to pick and import keys:
// - keys are refreshed in the background after `cacheTtl`; until a refresh succeeds the old set keeps serving;
// - a token with an unknown `kid` triggers a refresh at most once per `cooldown`;
// - the first fetch happens on the first token (compiling a config never calls out).
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import { errors } from 'jose';

type LocalSet = ReturnType<typeof createLocalJWKSet>;
type Key = Awaited<ReturnType<LocalSet>>;

const MAX_DOCUMENT = 1024 * 1024;

export interface RemoteJwksOptions {
  jwksUri?: string | undefined;
  /** OIDC issuer: `${issuer}/.well-known/openid-configuration` names the jwks_uri. */
  issuer?: string | undefined;
  cacheTtl: number;
  cooldown: number;
  timeout: number;
  now?: () => number;
}

export class KeySourceUnavailable extends Error {}

export class RemoteJwks {
  private set: LocalSet | undefined;
  private fetchedAt = 0;
  private attemptedAt = -Infinity;
  private pending: Promise<void> | undefined;
  private jwksUri: string | undefined;
  private readonly now: () => number;
  /** How many fetches of the key set were made (tests, metrics). */
  fetches = 0;

  constructor(private readonly opts: RemoteJwksOptions) {
    this.jwksUri = opts.jwksUri;
    this.now = opts.now ?? Date.now;
  }

  /** The key getter for jose's jwtVerify. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> => {
    if (this.set === undefined) {
      await this.refresh();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- refresh() sets it, unless the fetch failed
      if (this.set === undefined) throw new KeySourceUnavailable('no key set could be fetched yet');
    } else if (this.now() - this.fetchedAt > this.opts.cacheTtl) {
      void this.refresh().catch(() => {}); // stale-while-revalidate, and stale while the endpoint fails
    }
    try {
      return await this.set(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || this.now() - this.attemptedAt < this.opts.cooldown) throw err;
      await this.refresh().catch(() => {});
      return this.set(header, token);
    }
  };

  /** One fetch at a time; a failure keeps the current set. */
  refresh(): Promise<void> {
    if (this.pending) return this.pending;
    if (this.now() - this.attemptedAt < this.opts.cooldown && this.set !== undefined) return Promise.resolve();
    this.attemptedAt = this.now();
    this.pending = this.load().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async load(): Promise<void> {
    this.jwksUri ??= await this.discover();
    const doc = await getJson(this.jwksUri, this.opts.timeout);
    if (!isRecord(doc) || !Array.isArray(doc.keys)) throw new KeySourceUnavailable(`${this.jwksUri} is not a JWK set`);
    this.fetches++;
    this.set = createLocalJWKSet(doc as unknown as JSONWebKeySet);
    this.fetchedAt = this.now();
  }

  private async discover(): Promise<string> {
    const issuer = this.opts.issuer!;
    const url = issuer.replace(/\/+$/, '') + '/.well-known/openid-configuration';
    const doc = await getJson(url, this.opts.timeout);
    if (!isRecord(doc) || typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri)) {
      throw new KeySourceUnavailable(`${url} names no http(s) jwks_uri`);
    }
    if (doc.issuer !== undefined && doc.issuer !== issuer)
      throw new KeySourceUnavailable(
        `${url} is for issuer ${typeof doc.issuer === 'string' ? doc.issuer : JSON.stringify(doc.issuer)}, not ${issuer}`,
      );
    return doc.jwks_uri;
  }
}

async function getJson(url: string, timeout: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeout), headers: { accept: 'application/json' }, redirect: 'error' });
  } catch (err) {
    throw new KeySourceUnavailable(`${url}: ${(err as Error).message}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new KeySourceUnavailable(`${url} answered ${res.status}`);
  }
  const text = await res.text();
  if (text.length > MAX_DOCUMENT) throw new KeySourceUnavailable(`${url}: document larger than 1 MiB`);
  try {
    return JSON.parse(text);
  } catch {
    throw new KeySourceUnavailable(`${url}: not JSON`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
