// Counters of cluster workers that died. GET /metrics adds up what every live worker reports; a
// worker that is killed takes its counters with it, so the instance's totals would go down and
// Prometheus' rate() would see a reset that never happened. The primary remembers each worker's
// last reported metrics and, when the worker dies, keeps its counters and histograms (summed with
// those of earlier dead workers) as one more plane. What a killed worker counted after its last
// report is lost, but no total anyone has read ever goes down. Gauges (in flight, health) die with
// their worker: they describe a process that no longer exists.
import { AggregatorRegistry } from 'prom-client';

type MetricsJson = { type?: unknown }[];

export class RetiredMetrics {
  private readonly last = new Map<number, MetricsJson>();
  private retired: MetricsJson = [];
  /** Folding is asynchronous (prom-client's aggregation); readers wait for the latest fold. */
  private folding: Promise<void> = Promise.resolve();

  /** A live worker's metrics as it just reported them. */
  seen(worker: number, metrics: unknown): void {
    if (Array.isArray(metrics)) this.last.set(worker, metrics as MetricsJson);
  }

  died(worker: number): void {
    const metrics = this.last.get(worker);
    this.last.delete(worker);
    if (metrics === undefined) return;
    const cumulative = metrics.filter((m) => m.type === 'counter' || m.type === 'histogram');
    this.folding = this.folding.then(async () => {
      const parts = this.retired.length ? [this.retired, cumulative] : [cumulative];
      try {
        this.retired = await AggregatorRegistry.aggregate(parts).getMetricsAsJSON();
      } catch {
        // A report that cannot be added up (it came from a worker) is dropped; the totals so far stay.
      }
    });
  }

  /** The summed counters of every dead worker, or undefined while no worker with metrics has died. */
  async snapshot(): Promise<object[] | undefined> {
    await this.folding;
    return this.retired.length ? this.retired : undefined;
  }
}
