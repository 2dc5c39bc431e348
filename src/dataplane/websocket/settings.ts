// A route's `websocket` config compiled into numbers once per plan (never per connection).
import type { RouteWebSocketConfig } from '../../config/websocket-schema.js';
import { WEBSOCKET_DEFAULTS } from '../../config/websocket-schema.js';
import { parseDuration } from '../../config/units.js';

export interface WebSocketSettings {
  /** ms without a byte either way before the connection is closed; 0 = never. */
  idleTimeout: number;
  /** ms after which the connection is closed however busy; 0 = no limit. */
  maxLifetime: number;
  /** Open connections of the route in this process. */
  maxConnections: number;
  /** Open connections of one consumer on the route in this process; Infinity = no cap. */
  maxConnectionsPerConsumer: number;
  /** ms for the service to connect and answer 101. */
  handshakeTimeout: number;
}

/** undefined: the route does not proxy upgrades. */
export function compileWebSocket(c: RouteWebSocketConfig): WebSocketSettings | undefined {
  if (c === false) return undefined;
  const o = c === true ? undefined : c;
  return {
    idleTimeout: parseDuration(o?.idleTimeout ?? WEBSOCKET_DEFAULTS.idleTimeout),
    maxLifetime: parseDuration(o?.maxLifetime ?? WEBSOCKET_DEFAULTS.maxLifetime),
    maxConnections: o?.maxConnections ?? WEBSOCKET_DEFAULTS.maxConnections,
    maxConnectionsPerConsumer: o?.maxConnectionsPerConsumer ?? Infinity,
    handshakeTimeout: parseDuration(o?.handshakeTimeout ?? WEBSOCKET_DEFAULTS.handshakeTimeout),
  };
}
