// Checks of the identity sections that the schema cannot express: duplicates, hash formats,
// references to consumers, keys that must parse. (A listener's TLS files: edge/tls/validate-tls.ts.)
import type { ConsumerConfig } from '../config/consumer-schema.js';
import { apiKeyProblem, credentialDigest } from './secrets.js';
import { credentialId } from './registry.js';

interface Issue {
  path: string;
  message: string;
}
type PolicyLike = { type: string } & Record<string, unknown>;

export function consumerIssues(consumers: readonly ConsumerConfig[]): Issue[] {
  const out: Issue[] = [];
  const ids = new Map<string, number>();
  const usernames = new Map<string, number>();
  const credIds = new Map<string, string>();
  const keys = new Map<string, string>();
  const basics = new Map<string, string>();
  const certs = new Map<string, string>();
  consumers.forEach((c, i) => {
    const at = `consumers[${i}]`;
    if (ids.has(c.id)) out.push({ path: `${at}.id`, message: `duplicate consumer id "${c.id}" (also consumers[${ids.get(c.id)}])` });
    else ids.set(c.id, i);
    if (c.username !== undefined) {
      if (usernames.has(c.username))
        out.push({ path: `${at}.username`, message: `duplicate username "${c.username}" (also consumers[${usernames.get(c.username)}])` });
      else usernames.set(c.username, i);
    }
    c.credentials.forEach((cred, j) => {
      const cat = `${at}.credentials[${j}]`;
      const id = credentialId(c.id, cred.type, j, cred.id);
      if (credIds.has(id)) out.push({ path: `${cat}.id`, message: `duplicate credential id "${id}" (also ${credIds.get(id)})` });
      else credIds.set(id, cat);
      if (cred.type === 'api-key') {
        if (apiKeyProblem(cred.key)) return; // the schema reports it
        const d = credentialDigest(cred).toString('base64');
        // Never echo the key itself in an error.
        if (keys.has(d)) out.push({ path: `${cat}.key`, message: `this API key is already used by ${keys.get(d)}` });
        else keys.set(d, cat);
      } else if (cred.type === 'basic') {
        if (basics.has(cred.username))
          out.push({
            path: `${cat}.username`,
            message: `Basic username "${cred.username}" is already used by ${basics.get(cred.username)}`,
          });
        else basics.set(cred.username, cat);
      } else {
        const k = cred.subject !== undefined ? `subject:${cred.subject}` : `san:${cred.san}`;
        if (certs.has(k)) out.push({ path: cat, message: `this certificate ${k.split(':')[0]} is already used by ${certs.get(k)}` });
        else certs.set(k, cat);
      }
    });
  });
  return out;
}

/**
 * Checks one policy entry: the generic identity rule (an `anonymous` consumer must exist) here, and
 * whatever its own definition checks (`check`, given by the caller that knows the registry).
 */
export function policyIdentityIssues(p: PolicyLike, at: string, consumerIds: ReadonlySet<string>, check: PolicyCheck): Issue[] {
  const out: Issue[] = [];
  if (typeof p.anonymous === 'string' && !consumerIds.has(p.anonymous)) {
    out.push({ path: `${at}.anonymous`, message: `consumer "${p.anonymous}" is not defined in consumers` });
  }
  out.push(...check(p, at, (entry, nestedAt) => policyIdentityIssues(entry, nestedAt, consumerIds, check)));
  return out;
}

/** Runs a policy entry's own definition hook; `nested` checks an entry inside it the same way. */
export type PolicyCheck = (p: PolicyLike, at: string, nested: (entry: { type: string }, at: string) => Issue[]) => Issue[];

export function identityIssues(
  cfg: {
    consumers: readonly ConsumerConfig[];
    policies: readonly PolicyLike[];
    routes: readonly ({ policies: readonly PolicyLike[] } | undefined)[];
  },
  check: PolicyCheck,
  /** The consumers' own checks were done (a list known valid): only the references are checked. */
  known?: { ids: ReadonlySet<string> },
): Issue[] {
  const out = known ? [] : consumerIssues(cfg.consumers);
  const ids = known?.ids ?? new Set(cfg.consumers.map((c) => c.id));
  cfg.policies.forEach((p, i) => out.push(...policyIdentityIssues(p, `policies[${i}]`, ids, check)));
  cfg.routes.forEach((r, i) =>
    r?.policies.forEach((p, j) => out.push(...policyIdentityIssues(p, `routes[${i}].policies[${j}]`, ids, check))),
  );
  return out;
}
