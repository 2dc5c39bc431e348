// The forms of a Redis store URL (store.url, a cache policy's url), parsed once for both the config
// check and the client:
//
//   redis://[[user]:password@]host[:port][/db]            one server (rediss:// over TLS)
//   redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/master[/db]
//                                                         the master that Sentinel names, followed
//                                                         through failovers (sentinels default to 26379)
//   redis+cluster://[[user]:password@]host[:port][,host[:port]…]
//                                                         a Redis Cluster, from any of its nodes
//
// The credentials are the data nodes'; sentinels are asked without them. Hosts may be IPv6 in
// brackets. No query string (nothing would read it). redis:// and rediss:// are ioredis's own
// (parsed by it, as before this file). A message about a bad URL never quotes the
// URL: it may hold a password.

export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; db: number; username?: string; password?: string; label: string }
  | { mode: 'cluster'; nodes: HostPort[]; username?: string; password?: string; label: string };

export interface HostPort {
  host: string;
  port: number;
}

export const REDIS_URL_FORMS =
  'redis://[:password@]host:port[/db], rediss://…, redis+sentinel://[:password@]host:26379[,host:26379…]/master[/db] or redis+cluster://[:password@]host:port[,host:port…]';

const SCHEMES = ['redis', 'rediss', 'redis+sentinel', 'redis+cluster'] as const;

/** The target of `url`, or why it is not a Redis store URL (a message safe to log). */
export function parseRedisUrl(url: string): RedisTarget | { error: string } {
  const m = /^([a-z+]+):\/\/(.*)$/is.exec(url);
  const scheme = m?.[1]?.toLowerCase();
  if (m === null || !(SCHEMES as readonly string[]).includes(scheme ?? '')) return { error: `a Redis URL is one of ${REDIS_URL_FORMS}` };
  // One server: the URL is ioredis's, as it always was (its own parser reads it; storeLabel labels it).
  if (scheme === 'redis' || scheme === 'rediss') return { mode: 'single', url };
  const rest = m[2]!;
  // The credentials end at the last "@" before the host list: a password may hold "@" only
  // percent-encoded, and "#" or "?" never unencoded.
  if (/[?#]/.test(rest)) return { error: `${scheme}:// URL: a "?" or "#" is not allowed (percent-encode it in a password)` };
  const at = rest.indexOf('@');
  if (at !== rest.lastIndexOf('@')) return { error: `${scheme}:// URL: more than one "@" (percent-encode "@" in a password as %40)` };
  const userinfo = at < 0 ? undefined : rest.slice(0, at);
  const afterAt = at < 0 ? rest : rest.slice(at + 1);
  const slash = afterAt.indexOf('/');
  const hostList = slash < 0 ? afterAt : afterAt.slice(0, slash);
  const path = slash < 0 ? '' : afterAt.slice(slash + 1);
  const creds = credentials(userinfo);
  if ('error' in creds) return { error: `${scheme}:// URL: ${creds.error}` };
  const defaultPort = scheme === 'redis+sentinel' ? 26379 : 6379;
  const hosts = hostPorts(hostList, defaultPort);
  if ('error' in hosts) return { error: `${scheme}:// URL: ${hosts.error}` };
  if (scheme === 'redis+cluster') {
    if (path !== '') return { error: 'redis+cluster:// URL: no path (a cluster has database 0 only)' };
    return { mode: 'cluster', nodes: hosts.list, ...creds.value, label: `redis+cluster://${hosts.list.map(show).join(',')}` };
  }
  const parts = path.split('/');
  const name = decode(parts[0] ?? '');
  if (name === undefined || name === '') return { error: 'redis+sentinel:// URL: the master name follows the hosts (…:26379/mymaster)' };
  if (parts.length > 2 || (parts.length === 2 && !/^\d{1,2}$/.test(parts[1]!)))
    return { error: 'redis+sentinel:// URL: after the master name, only a database number (/mymaster/0)' };
  const db = parts.length === 2 ? Number(parts[1]) : 0;
  return {
    mode: 'sentinel',
    sentinels: hosts.list,
    name,
    db,
    ...creds.value,
    label: `redis+sentinel://${hosts.list.map(show).join(',')}/${parts[0]}${parts.length === 2 ? '/' + db : ''}`,
  };
}

function credentials(userinfo: string | undefined): { value: { username?: string; password?: string } } | { error: string } {
  if (userinfo === undefined) return { value: {} };
  const colon = userinfo.indexOf(':');
  const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const pass = colon < 0 ? undefined : decode(userinfo.slice(colon + 1));
  if (user === undefined || (colon >= 0 && pass === undefined)) return { error: 'the credentials hold a bad percent-encoding' };
  const value: { username?: string; password?: string } = {};
  if (user !== '') value.username = user;
  if (pass !== undefined && pass !== '') value.password = pass;
  return { value };
}

function hostPorts(list: string, defaultPort: number): { list: HostPort[] } | { error: string } {
  if (list === '') return { error: 'no host' };
  const out: HostPort[] = [];
  const items = list.split(',');
  for (const [i, item] of items.entries()) {
    // Never quoted: a URL written without its "@" would put a password here.
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(item);
    if (m === null) return { error: `host ${i + 1} of ${items.length} is not host[:port]` };
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port < 1 || port > 65535) return { error: `the port of host ${i + 1} of ${items.length} is out of range` };
    const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
    out.push({ host, port });
  }
  return { list: out };
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function show(h: HostPort): string {
  return `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
}
