// The verified caller, as authentication policies set it on a request (RequestContext.identity).
// Here, in the identity layer, so that the consumer registry and the policy contract both use it
// without importing each other.
/**
 * Who is calling, once an authentication policy has verified it. Authentication policies set
 * `RequestContext.identity`; authorisation, rate limits, consistent hashing and the access log
 * read it. Nothing a client sends can set it.
 */
export interface Identity {
  /** The consumer's id; absent when a verified token maps to no known consumer (anonymous). */
  consumerId?: string;
  username?: string;
  groups: readonly string[];
  /** The consumer's plan (rate-limit tier). */
  plan?: string;
  credentialId?: string;
  scopes?: readonly string[];
  claims?: Readonly<Record<string, unknown>>;
  /** True when the identity is the route's `anonymous` fallback consumer. */
  anonymous?: boolean;
  /** The authentication policy type that verified it (e.g. "key-auth"). */
  method?: string;
}
