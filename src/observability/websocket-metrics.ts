// WebSocket connections in Prometheus: open now, opened and closed (by who closed) since start, and
// bytes each way. The data plane keeps plain numbers per route and service, updated as bytes pass;
// they are read only when /metrics is scraped. With workers the admin API adds the workers up
// (gauges too: open connections of all workers).
import { Counter, Gauge, type Registry } from 'prom-client';

/** One route's connections to one service, since the process started (counts never go back). */
export interface WebSocketRouteStats {
  readonly route: string;
  readonly service: string;
  /** Open now. */
  open: number;
  opened: number;
  /** Closed, by who or what closed them (client, upstream, idle, lifetime, shutdown, error). */
  readonly closed: Map<string, number>;
  /** Bytes read from clients, and from the service (what goes to clients). */
  bytesIn: number;
  bytesOut: number;
}

export function registerWebSocketMetrics(registers: Registry[], stats: () => Iterable<WebSocketRouteStats>): void {
  new Gauge({
    name: 'gatehouse_websocket_connections',
    help: 'Open WebSocket connections, by route and service.',
    labelNames: ['route', 'service'],
    registers,
    collect() {
      this.reset();
      for (const s of stats()) this.set({ route: s.route, service: s.service }, s.open);
    },
  });
  new Counter({
    name: 'gatehouse_websocket_connections_opened_total',
    help: 'WebSocket connections opened (the service answered 101), by route and service.',
    labelNames: ['route', 'service'],
    registers,
    collect() {
      this.reset();
      for (const s of stats()) this.inc({ route: s.route, service: s.service }, s.opened);
    },
  });
  new Counter({
    name: 'gatehouse_websocket_connections_closed_total',
    help: 'WebSocket connections closed, by route, service and reason: who closed first (client, upstream), or the gateway (idle, lifetime, shutdown), or a broken connection (error).',
    labelNames: ['route', 'service', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const s of stats()) for (const [reason, n] of s.closed) this.inc({ route: s.route, service: s.service, reason }, n);
    },
  });
  new Counter({
    name: 'gatehouse_websocket_bytes_total',
    help: 'Bytes of open WebSocket connections, by route, service and direction: in = from clients, out = from the service to clients (frames as on the wire).',
    labelNames: ['route', 'service', 'direction'],
    registers,
    collect() {
      this.reset();
      for (const s of stats()) {
        this.inc({ route: s.route, service: s.service, direction: 'in' }, s.bytesIn);
        this.inc({ route: s.route, service: s.service, direction: 'out' }, s.bytesOut);
      }
    },
  });
}
