// Metrics that belong to the instance rather than to a data plane: config reloads and the active
// config version. With workers they live in the primary and are added to the workers' metrics by
// the admin API.
import { Counter, Gauge, Registry } from 'prom-client';

export class InstanceMetrics {
  readonly registry = new Registry();
  private readonly reloads: Counter;

  constructor(version: () => number) {
    const registers = [this.registry];
    this.reloads = new Counter({
      name: 'gatehouse_config_reloads_total',
      help: 'Config changes applied (ok) or refused (failed).',
      labelNames: ['result'],
      registers,
    });
    this.reloads.labels('ok').inc(0);
    this.reloads.labels('failed').inc(0);
    new Gauge({
      name: 'gatehouse_config_version',
      help: 'The version of the config being served (1 at start, +1 per applied change).',
      registers,
      aggregator: 'max',
      collect() {
        this.set(version());
      },
    });
  }

  reloaded(ok: boolean): void {
    this.reloads.labels(ok ? 'ok' : 'failed').inc();
  }

  snapshot(): Promise<object[]> {
    return this.registry.getMetricsAsJSON();
  }
}
