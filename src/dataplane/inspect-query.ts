// What the runtime may ask a data plane about its state (answered by DataPlane.inspect, in the
// process or worker that owns the state). Lives beside the data plane so the data plane needs
// nothing from the runtime above it.
import type { GatehouseConfig } from '../config/schema.js';
import type { AnalyticsWindow } from '../observability/analytics/analytics.js';

export type InspectQuery =
  | { what: 'health'; service: string }
  /** prom-client JSON of the plane's registry. */
  | { what: 'metrics' }
  /** The plane's analytics part over a window (observer.ts AnalyticsPart). */
  | { what: 'analytics'; window: AnalyticsWindow }
  /** The plane's last `seconds` seconds of requests (observability/analytics/per-second.ts SecondData[]). */
  | { what: 'timeseries'; seconds: number }
  /** A consumer's usage of the rate limits and quotas that apply to it (policies/rate-limit/usage.ts). */
  /**
   * `record`: the consumer as the admin's config has it. An edit through /consumers reaches a data
   * plane as a delta of its registry, not of its plan's config, which may not list the consumer yet.
   */
  | { what: 'usage'; consumer: string; record?: GatehouseConfig['consumers'][number] }
  /** The plane's rate-limit stores and their state (store/health.ts StoreStatus[]). */
  | { what: 'stores' }
  /** The certificates of the plane's TLS listeners (edge/tls CertificateStatus[]). */
  | { what: 'certificates' }
  /** The plane's cache stores (store/cache CacheStats[]). */
  | { what: 'cache-stats' }
  /** Asks the plane to forget cached responses — by exact key, key prefix or tag — and how many keys went (a number). */
  | { what: 'cache-purge'; key?: string; prefix?: string; tag?: string };
