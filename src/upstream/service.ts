// A service at run time: its targets and how one is picked for a request.
// Picking is smooth weighted round robin (as nginx does): with weights 5/1/1 the order is
// a a b a c a a, never a burst of five to one target.
import type { Dispatcher } from 'undici';
import type { ServiceConfig } from '../config/schema.js';
import { parseDuration } from '../config/units.js';

export interface TargetRuntime {
  url: string;
  /** scheme://host:port */
  origin: string;
  /** Path of the target URL without trailing slash ("" for none); prefixed to every request. */
  basePath: string;
  /** The Host header the target expects (host[:port]). */
  host: string;
  weight: number;
  dispatcher: Dispatcher;
  poolKey: string;
}

export interface ServiceTimeouts { connect: number; response: number; idle: number }

export interface ServiceRuntime {
  name: string;
  targets: TargetRuntime[];
  timeouts: ServiceTimeouts;
  pick(): TargetRuntime;
}

export type ConnectTarget = (origin: string, svc: ServiceConfig) => { key: string; dispatcher: Dispatcher };

export function compileService(name: string, cfg: ServiceConfig, connect: ConnectTarget): ServiceRuntime {
  const targets: TargetRuntime[] = cfg.targets.map((t) => {
    const u = new URL(t.url);
    const { key, dispatcher } = connect(u.origin, cfg);
    return {
      url: t.url,
      origin: u.origin,
      basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, ''),
      host: u.host,
      weight: t.weight,
      dispatcher,
      poolKey: key,
    };
  });
  const timeouts = {
    connect: parseDuration(cfg.timeouts.connect),
    response: parseDuration(cfg.timeouts.response),
    idle: parseDuration(cfg.timeouts.idle),
  };
  return { name, targets, timeouts, pick: smoothWeightedRoundRobin(targets) };
}

function smoothWeightedRoundRobin(targets: TargetRuntime[]): () => TargetRuntime {
  const live = targets.filter((t) => t.weight > 0);
  if (live.length === 1) {
    const only = live[0]!;
    return () => only;
  }
  const total = live.reduce((s, t) => s + t.weight, 0);
  const current = new Array<number>(live.length).fill(0);
  return () => {
    let best = 0;
    for (let i = 0; i < live.length; i++) {
      current[i]! += live[i]!.weight;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    return live[best]!;
  };
}
