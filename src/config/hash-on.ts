// `hashOn`: how a service's consistent-hash key is spelled (upstream/balancers/hash-key.ts
// compiles it). Checked here so that config validation needs nothing above config.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const QUERY_NAME = /^[^\s&=#]+$/;
const FORMS = 'header:<name>, cookie:<name>, ip, consumer, path or query:<name>';

/** Returns why `spec` is not a valid hashOn, or undefined when it is. */
export function validateHashOn(spec: string): string | undefined {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const name = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (kind) {
    case 'ip':
    case 'consumer':
    case 'path':
      return name === undefined ? undefined : `hashOn "${spec}": "${kind}" takes no name; expected ${FORMS}`;
    case 'header':
    case 'cookie':
      if (name !== undefined && TOKEN.test(name)) return undefined;
      return `hashOn "${spec}": "${kind}:" needs a ${kind} name made of letters, digits and !#$%&'*+-.^_\`|~`;
    case 'query':
      if (name !== undefined && QUERY_NAME.test(name)) return undefined;
      return `hashOn "${spec}": "query:" needs a parameter name without spaces, "&", "=" or "#"`;
    default:
      return `hashOn "${spec}" is not valid: expected ${FORMS}`;
  }
}
