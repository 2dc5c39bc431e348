// The data plane of one process: its listeners, the current plan (swapped atomically on reload),
// and the bookkeeping that lets in-flight requests finish on the plan they started with.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { TlsListeners } from '../edge/tls/tls-listeners.js';
import { compileRedirect, type HttpsRedirect } from './https-redirect.js';
import { listenerUrl } from './listener-url.js';
import type { Socket } from 'node:net';
import { compilePlan, closePlan, type Plan } from './plan.js';
import type { ConsumerDelta } from '../identity/registry.js';
import type { GatehouseConfig } from '../config/schema.js';
import { parseDuration } from '../config/units.js';
import { PoolRegistry } from '../upstream/pool-registry.js';
import { StateRegistry } from '../upstream/state-registry.js';
import { systemClock, type Clock } from '../upstream/clock.js';
import type { ProbeMode } from '../upstream/service-state.js';
import type { LookupAll } from '../upstream/dns-resolver.js';
import { Observability, type ObservabilityChange } from '../observability/observer.js';
import type { PolicyMetrics } from '../observability/metrics.js';
import type { Tracer } from '../observability/tracing/tracer.js';
import type { Logger } from '../observability/logger.js';
import { Exchange, REFUSED, type ExchangeHost } from './exchange.js';
import { H2Exchange } from './http2/exchange.js';
import { onClientError } from './client-error.js';
import { Http2Listener } from './http2/listener.js';
import type { InspectQuery } from './inspect-query.js';
import { sendError } from './respond.js';
import { findHeader } from './header-list.js';
import { applyServerLimits, compileServerLimits, serverOptions, type ServerLimits } from '../edge/server-limits.js';
import { LoadShedder } from '../edge/load-shedder.js';
import { randomUUID } from 'node:crypto';
import { StoreRegistry } from '../store/registry.js';
import { WebSocketHub } from './websocket/hub.js';
import { InternalDispatcher, type DispatchFrom } from './internal-dispatch.js';
import { consumerUsage } from './consumer-usage.js';
import type { InternalRequest, InternalResponse } from '../routes/types.js';

export interface BoundListener {
  host: string;
  port: number;
  /** Where to reach it from this machine: https:// for a TLS listener (listener-url.ts). */
  url: string;
}

interface PlanState {
  plan: Plan;
  active: number;
  retired: boolean;
  poolKeys: string[];
  serviceNames: string[];
}

/** A compiled plan not yet serving (DataPlane.prepare). */
interface PreparedPlan {
  readonly plan: Plan;
  readonly config: GatehouseConfig;
  readonly state: PlanState;
  readonly obs: ObservabilityChange;
}

/** Where the runtime supports SO_REUSEPORT in server.listen (Node ≥ 22.12 / ≥ 23.1). */
export function hasReusePort(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

export class DataPlane implements ExchangeHost {
  readonly proto = 'http' as const;
  draining = false;
  timed: boolean;
  inflight = 0;
  /** Listener limits (`server:`); fixed for the life of the listeners. */
  readonly limits: ServerLimits;
  readonly shedder = new LoadShedder();
  private state!: PlanState;
  private readonly states = new Map<Plan, PlanState>();
  /** Plans compiled (gatehouse_plan_compiles_total): how a test sees that a consumer change recompiled nothing. */
  private compiles = 0;
  private readonly pools = new PoolRegistry();
  readonly upstreams: StateRegistry;
  private readonly servers: (http.Server | https.Server)[] = [];
  /** HTTP/2 beside HTTP/1.1 on a listener: by ALPN on TLS, by the connection preface with `http2: true`. */
  private readonly http2: Http2Listener[] = [];
  /** Rate-limit stores, shared by every plan of this data plane (counts survive reloads). */
  readonly stores: StoreRegistry;
  /** WebSocket upgrades and open connections (websocket/hub.ts). */
  readonly websockets: WebSocketHub = new WebSocketHub(this);
  /** The certificates of the TLS listeners; they follow reloads and their files (edge/tls). */
  private readonly tls: TlsListeners;

  /** Requests to this plane's own routes from inside it (batch items), over in-memory connections. */
  private internal: InternalDispatcher | undefined;

  /** Access log, metrics, analytics, tracing (issue 7). */
  readonly obs: Observability;
  tracer: Tracer | undefined;

  constructor(
    config: GatehouseConfig,
    readonly log: Logger,
    opts: { clock?: Clock; probes?: ProbeMode; lookup?: LookupAll } = {},
  ) {
    this.stores = new StoreRegistry({ live: true, clusterWorker: process.env.GATEHOUSE_WORKER === '1', log });
    this.upstreams = new StateRegistry(opts.clock ?? systemClock, log, opts.probes ?? 'local', opts.lookup);
    this.tls = new TlsListeners(log);
    this.obs = new Observability(
      {
        inflight: () => this.inflight,
        shed: () => this.shedder.shed,
        planCompiles: () => this.compiles,
        services: () => this.upstreams.all(),
        stores: () => this.stores.health(),
        cacheStores: () => this.stores.cache.stats(),
        websockets: () => this.websockets.stats(),
        certificates: () => this.tls.expiries(),
      },
      log,
    );
    this.limits = compileServerLimits(config.server);
    const first = this.prepare(config);
    this.obs.commit(first.obs);
    this.timed = this.obs.active;
    this.tracer = this.obs.tracer;
    this.state = first.state;
    this.shedder.configure(config.loadShedding);
  }

  get plan(): Plan {
    return this.state.plan;
  }

  private compile(config: GatehouseConfig, metrics: PolicyMetrics | undefined): PlanState {
    const poolKeys: string[] = [];
    const serviceNames: string[] = [];
    try {
      const plan = compilePlan(
        config,
        {
          connect: (origin, svc, servername) => {
            const { key, pool } = this.pools.acquire(origin, {
              connectTimeout: parseDuration(svc.timeouts.connect),
              maxConnections: svc.pool.maxConnections,
              keepAliveTimeout: parseDuration(svc.pool.keepAliveTimeout),
              servername,
              protocol: svc.protocol,
            });
            poolKeys.push(key);
            return { key, dispatcher: pool };
          },
          release: (key) => {
            const i = poolKeys.indexOf(key);
            if (i === -1) return;
            poolKeys.splice(i, 1);
            this.pools.release(key);
          },
          serviceState: (name) => {
            serviceNames.push(name);
            return this.upstreams.acquire(name);
          },
        },
        undefined,
        this.log,
        this.stores,
        metrics,
      );
      for (const s of plan.services.values()) s.follow();
      this.compiles++;
      const st: PlanState = { plan, active: 0, retired: false, poolKeys, serviceNames };
      this.states.set(plan, st);
      return st;
    } catch (err) {
      for (const k of poolKeys) this.pools.release(k);
      for (const n of serviceNames) this.upstreams.release(n);
      throw err;
    }
  }

  /** Runtime state for the admin API (answered in the worker that owns it). */
  inspect(query: InspectQuery): unknown {
    if (query.what === 'health') return this.upstreams.get(query.service)?.snapshot();
    if (query.what === 'metrics') return this.obs.metricsJson();
    if (query.what === 'certificates') return this.tls.certificates();
    if (query.what === 'analytics') return this.obs.analyticsPart(query.window);
    if (query.what === 'timeseries') return this.obs.timeseries(query.seconds);
    if (query.what === 'usage') return consumerUsage(this.state.plan.config, this.stores, query.consumer, query.record);
    if (query.what === 'cache-stats') return this.stores.cache.stats();
    if (query.what === 'cache-purge') return this.stores.cache.purge(query);
    return this.stores.status(); // 'stores'
  }

  /** SIGUSR1: reopen the access-log file (after rotation). */
  reopenLogs(): void {
    this.obs.reopenLogs();
  }

  /** Active-check verdicts from the cluster primary. */
  setActiveHealth(service: string, targets: { key: string; healthy: boolean; reason: string }[]): void {
    const state = this.upstreams.get(service);
    if (state) for (const t of targets) state.setActiveVerdict(t.key, t.healthy, t.reason);
  }

  /**
   * Changes some consumers of the current plan in place: its policies read the registry per
   * request, so nothing is recompiled. Requests still on a retired plan keep its consumers.
   */
  applyConsumers(delta: ConsumerDelta): void {
    this.state.plan.consumers.applyDelta(delta);
  }

  /**
   * Compiles `config` once and makes it current, all or nothing: a config that does not compile
   * throws and changes nothing, observability included. Requests already running keep their plan.
   */
  apply(config: GatehouseConfig): Plan {
    // The TLS listeners' certificates first (read again from their files): nothing changes if one fails.
    const tls = this.tls.prepare(config.listen);
    const next = this.prepare(config);
    this.commit(next);
    this.tls.commit(tls);
    return next.plan;
  }

  /**
   * Compiles `config` with everything it needs (pools, service state, its observability) without
   * changing what serves. A config that does not compile throws here, and nothing has changed.
   */
  private prepare(config: GatehouseConfig): PreparedPlan {
    const obs = this.obs.prepare(config);
    let state: PlanState;
    try {
      state = this.compile(config, obs.metrics);
    } catch (err) {
      this.obs.discard(obs);
      throw err;
    }
    return { plan: state.plan, config, state, obs };
  }

  /** Makes a prepared plan current, its observability included. Never throws. */
  private commit(next: PreparedPlan): void {
    this.obs.commit(next.obs);
    this.timed = this.obs.active;
    this.tracer = this.obs.tracer;
    const prev = this.state;
    this.state = next.state;
    this.shedder.configure(next.config.loadShedding);
    prev.retired = true;
    if (prev.active === 0) this.release(prev);
  }

  private release(st: PlanState): void {
    this.states.delete(st.plan);
    closePlan(st.plan);
    for (const k of st.poolKeys) this.pools.release(k);
    for (const n of st.serviceNames) this.upstreams.release(n);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => this.serve(req, res, undefined);

  /** The handler of a plain listener with `redirectHttps`. */
  private redirecting(to: HttpsRedirect): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => this.serve(req, res, to);
  }

  private serve(req: IncomingMessage, res: ServerResponse, redirect: HttpsRedirect | undefined): void {
    if ((req.socket as unknown as Record<symbol, boolean>)[REFUSED]) {
      // Pipelined behind a refused request: never served, never answered. Destroying the socket
      // here would also lose the refusal and any response still queued before it; the refusal
      // says `connection: close`, so node closes the socket once those are written.
      return;
    }
    if (res.socket === null) {
      // Pipelined behind a response still under way: wait for it. What the request before this
      // one turns out to be (a body over a limit, cut short, refused) is known only once it is
      // answered, and may mean this request must never be served (REFUSED, checked on re-entry).
      res.once('socket', () => this.serve(req, res, redirect));
      return;
    }
    if (this.shedder.overloaded(this.inflight)) return this.shed(req, res);
    const st = this.state;
    st.active++;
    this.inflight++;
    const ex = req.httpVersionMajor === 2 ? new H2Exchange(this, st.plan, req, res) : new Exchange(this, st.plan, req, res);
    if (redirect !== undefined) ex.listenerRedirect = redirect;
    try {
      ex.run();
    } catch (err) {
      ex.crashed(err); // a throwing policy costs its request a 500, never the process
    }
  }

  /**
   * A request through this plane's own routes, served as a plain listener serves one (through
   * `serve`: counted in flight, shed when overloaded, on the current plan).
   */
  dispatchInternal(req: InternalRequest, from: DispatchFrom): Promise<InternalResponse> {
    this.internal ??= new InternalDispatcher(this.handle, this.limits);
    return this.internal.dispatch(req, from);
  }

  /** Counts a new exchange in flight on the current plan (`completed` gives it back): the WebSocket handshakes. */
  enter(): Plan {
    const st = this.state;
    st.active++;
    this.inflight++;
    return st.plan;
  }

  /**
   * Overloaded: answer before any work (no routing, no policies). The connection stays open for a
   * bodiless request (a reconnect would cost more than the answer); one with a body is closed
   * rather than read, and nothing pipelined behind it is served.
   */
  private shed(req: IncomingMessage, res: ServerResponse): void {
    this.shedder.shed++;
    if (this.limits.serverHeader !== undefined) res.setHeader('server', this.limits.serverHeader);
    const raw = req.rawHeaders;
    const cl = findHeader(raw, 'content-length');
    const body = findHeader(raw, 'transfer-encoding') !== undefined || (cl !== undefined && cl !== '0');
    // (HTTP/2: the socket is every stream's, and a stream's answer never closes it.)
    if (body && req.httpVersionMajor !== 2) (req.socket as unknown as Record<symbol, boolean>)[REFUSED] = true;
    sendError(res, 'GW_OVERLOADED', randomUUID(), { close: body, headers: { 'retry-after': this.shedder.retryAfter } });
  }

  /** Called once per exchange when its response is finished or abandoned. */
  completed(ex: Exchange): void {
    this.inflight--;
    const st = this.states.get(ex.plan);
    if (st && --st.active === 0 && st.retired) this.release(st);
    // `socket` is set when the request started observed (a reload may have turned it on since).
    if (this.timed && ex.socket !== undefined) {
      try {
        this.obs.completed(ex.record());
      } catch (err) {
        // Observing must never take a request (or the process) down.
        this.log.error({ err, requestId: ex.requestId }, 'observing a finished request failed');
      }
    }
  }

  /** Starts the configured listeners. `workerMode` uses SO_REUSEPORT where available. */
  async listen(listeners: GatehouseConfig['listen'], opts: { reusePort?: boolean } = {}): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    for (const [i, l] of listeners.entries()) {
      const httpOptions = serverOptions(this.limits);
      const redirect = compileRedirect(l.redirectHttps);
      const handler = redirect === undefined ? this.handle : this.redirecting(redirect);
      const tls = this.tls.open(l, i);
      const server = tls
        ? tls.attach(https.createServer({ ...httpOptions, ...tls.options }, handler))
        : http.createServer(httpOptions, handler);
      const upgrades = { handler, redirect };
      if (l.tls ? l.tls.alpn.includes('h2') : l.http2 === true) {
        const h2 = new Http2Listener(server, l.tls !== undefined, this.limits, handler, this.log);
        this.websockets.attachHttp2(h2.server, upgrades); // WebSockets over HTTP/2 (RFC 8441)
        this.http2.push(h2);
      }
      applyServerLimits(server, this.limits);
      this.websockets.attach(server, upgrades);
      const serverHeader = this.limits.serverHeader;
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, serverHeader));
      this.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const options: Record<string, unknown> = { port: l.port, host: l.host };
        if (opts.reusePort && l.port !== 0 && hasReusePort()) Object.assign(options, { reusePort: true, exclusive: true });
        server.listen(options, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : l.port;
      this.tls.bound(i, l.host, port);
      bound.push({ host: l.host, port, url: listenerUrl(l.tls !== undefined, l.host, port) });
    }
    return bound;
  }

  /**
   * Graceful stop: no new connections, idle keep-alive connections closed, in-flight requests
   * finish (their connections close after the response) until `timeoutMs`, then the rest is cut.
   */
  async drain(timeoutMs = this.plan.drainTimeout): Promise<void> {
    this.draining = true;
    this.shedder.stop();
    this.websockets.goingAway(); // close frames (1001) to both sides of every open WebSocket
    for (const h of this.http2) h.goAway(); // GOAWAY: streams under way finish, no new ones
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    const sweep = setInterval(() => {
      for (const s of this.servers) s.closeIdleConnections();
    }, 50);
    for (const s of this.servers) s.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([closed, timedOut]);
    clearInterval(sweep);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn({ inflight: this.inflight }, 'drain timeout reached; closing remaining connections');
      this.websockets.destroyAll(); // upgraded sockets are no longer the servers' to close
      this.internal?.close();
      for (const h of this.http2) h.destroyAll();
      for (const s of this.servers) s.closeAllConnections();
      await closed;
    }
    this.tls.close();
    this.upstreams.closeAll();
    await this.pools.closeAll();
    await this.stores.close();
    await this.obs.close();
  }

  /** Immediate stop (tests, fatal errors). */
  async destroy(): Promise<void> {
    this.shedder.stop();
    this.websockets.destroyAll();
    for (const h of this.http2) h.destroyAll();
    for (const s of this.servers) {
      s.closeAllConnections();
      s.close();
    }
    this.internal?.close();
    this.tls.close();
    this.upstreams.closeAll();
    await this.pools.destroyAll();
    await this.stores.close();
    await this.obs.close();
  }
}
