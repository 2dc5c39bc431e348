// Metrics per operation a request carried (a GraphQL operation's type and name):
// gatehouse_graphql_operations_total{route,type,name,status_class} and
// gatehouse_graphql_operation_duration_seconds{route,type,name}. Operation names are the client's
// words: each route keeps at most MAX_NAMES of them, the rest count as "(other)" — a client
// inventing names cannot grow the series without bound. Anonymous operations are "(anonymous)".
// gRPC calls (operation protocol "grpc") have their own counter: grpc-metrics.ts.
import { BoundedLabel, CLASSES, Hist, LabelledCounts, classIndex } from './metric-parts.js';
import type { RequestRecord } from './request-record.js';
import { GrpcMetrics } from './grpc-metrics.js';

const MAX_NAMES = 100;

export const OPERATION_HELP = {
  operations: 'Requests carrying a GraphQL operation (read by a graphql policy), by route, operation type and name, and status class.',
  duration: 'Time from request to the end of the response of requests carrying a GraphQL operation, by route, type and name.',
};

export class OperationMetrics {
  private readonly counts = new LabelledCounts(['route', 'type', 'name', 'status_class']);
  private readonly durations = new Map<string, { labels: Record<string, string>; hist: Hist }>();
  private readonly names = new BoundedLabel(MAX_NAMES, '(anonymous)');
  private readonly grpc = new GrpcMetrics();

  record(s: RequestRecord): void {
    const op = s.operation;
    if (op?.protocol === 'grpc') return this.grpc.record(s);
    if (op === undefined || op.protocol !== 'graphql') return;
    const route = s.route ?? '';
    const name = this.names.of(route, op.name);
    this.counts.inc([route, op.type, name, CLASSES[classIndex(s.status)]!]);
    const key = route + '\u0000' + op.type + '\u0000' + name;
    let d = this.durations.get(key);
    if (d === undefined) this.durations.set(key, (d = { labels: { route, type: op.type, name }, hist: new Hist() }));
    d.hist.observe(s.durationMs / 1000);
  }

  metrics(): object[] {
    return [
      {
        name: 'gatehouse_graphql_operations_total',
        help: OPERATION_HELP.operations,
        type: 'counter',
        values: this.counts.values(),
        aggregator: 'sum',
      },
      {
        name: 'gatehouse_graphql_operation_duration_seconds',
        help: OPERATION_HELP.duration,
        type: 'histogram',
        values: [...this.durations.values()].flatMap((d) => d.hist.values('gatehouse_graphql_operation_duration_seconds', d.labels)),
        aggregator: 'sum',
      },
      ...this.grpc.metrics(),
    ];
  }
}
