// `routes[].websocket`: whether a route proxies WebSocket upgrades, and the limits of the
// connections it opens. `true` takes every default; an object sets some of them.
import { z } from 'zod';
import { Duration } from './units-schema.js';

export const WEBSOCKET_DEFAULTS = {
  idleTimeout: '5m',
  maxLifetime: '24h',
  maxConnections: 10_000,
  handshakeTimeout: '10s',
} as const;

const Limits = z
  .strictObject({
    idleTimeout: Duration.default(WEBSOCKET_DEFAULTS.idleTimeout).meta({
      description: 'Close a connection when no bytes have passed either way for this long (1001 to both sides); 0 = never.',
    }),
    maxLifetime: Duration.default(WEBSOCKET_DEFAULTS.maxLifetime).meta({
      description: 'Close a connection this long after it opened, however busy (1001 to both sides); 0 = no limit.',
    }),
    maxConnections: z.number().int().min(1).default(WEBSOCKET_DEFAULTS.maxConnections).meta({
      description: 'Open connections on this route per gateway process; beyond it a handshake gets 503 GW_WEBSOCKET_ROUTE_LIMIT.',
    }),
    maxConnectionsPerConsumer: z.number().int().min(1).optional().meta({
      description:
        'Open connections on this route per consumer (the identity an authentication policy set), per process; beyond it 429 GW_WEBSOCKET_CONSUMER_LIMIT. Absent = no per-consumer cap.',
    }),
    handshakeTimeout: Duration.default(WEBSOCKET_DEFAULTS.handshakeTimeout).meta({
      description: 'How long the service may take to connect and answer 101; then 504 GW_UPSTREAM_TIMEOUT.',
    }),
  })
  .meta({ description: 'WebSocket limits of this route.' });

export const RouteWebSocket = z.union([z.boolean(), Limits]).meta({
  description:
    'Proxy WebSocket upgrades on this route (true, or an object of limits). Other routes refuse an upgrade with 400 GW_WEBSOCKET_NOT_ALLOWED. Plain requests are served as usual either way.',
});

export type RouteWebSocketConfig = z.output<typeof RouteWebSocket>;
