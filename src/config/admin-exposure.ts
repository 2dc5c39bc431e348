// Whether the admin API is reachable from the network without a token. POST /config replaces the
// whole config (targets, policies, consumers), so such an admin API is a remote takeover: refused
// unless `admin.allowRemoteWithoutToken: true` says the network is trusted.
import { BlockList, isIP } from 'node:net';
import type { GatehouseConfig } from './schema.js';

type Admin = Partial<GatehouseConfig['admin']>;

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 and `localhost`. Every other name or address (0.0.0.0, ::, a LAN address) is not. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it maps.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)?.[1];
  const ip = mapped ?? host;
  const family = isIP(ip);
  return family !== 0 && loopback.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** A token that is empty or only whitespace is no token. */
export function hasToken(admin: Admin): boolean {
  return admin.token !== undefined && admin.token.trim() !== '';
}

/** Served off loopback with no token (only valid with allowRemoteWithoutToken; the start-up log warns). */
export function openRemoteAdmin(admin: Admin): boolean {
  return admin.enabled === true && admin.host !== undefined && !isLoopbackHost(admin.host) && !hasToken(admin);
}

/** Config errors about the admin API's exposure; `admin` holds the fields that passed the schema. */
export function adminExposureIssues(admin: Admin): { path: string; message: string }[] {
  if (admin.enabled !== true) return [];
  if (openRemoteAdmin(admin) && admin.allowRemoteWithoutToken !== true) {
    return [
      {
        path: 'admin.token',
        message:
          `the admin API listens on ${admin.host} (not loopback) and has no token: anyone who reaches it can replace the config. ` +
          'Set admin.token, keep admin.host on loopback (127.0.0.1, ::1, localhost), or set admin.allowRemoteWithoutToken: true for a network you trust',
      },
    ];
  }
  if (openRemoteAdmin(admin) && admin.console !== false) {
    // The console logs in with the token: without one, any browser that reaches the listener would
    // be handed a session (a cookie that works for every admin endpoint).
    return [
      {
        path: 'admin.console',
        message:
          `the admin API listens on ${admin.host} (not loopback) without a token, and the console needs one there. ` +
          'Set admin.token, keep admin.host on loopback, or set admin.console: false',
      },
    ];
  }
  if (admin.token !== undefined && admin.token !== '' && !hasToken(admin)) {
    // The server would demand it, and no bearer token (read trimmed) can match: nobody gets in.
    return [{ path: 'admin.token', message: 'a token of only whitespace is not a token; set a real one, or leave it empty for none' }];
  }
  return [];
}
