// Metrics per gRPC call (a request whose content-type is gRPC: the data plane sets its operation,
// protocol "grpc", name `/pkg.Service/Method`): gatehouse_grpc_requests_total{route,method,grpc_status}.
// The gRPC status sits beside the HTTP status the request series already count (a refused call is
// HTTP 200 with grpc-status 16, say). Method names are the client's words: each route keeps at
// most MAX_METHODS of them, the rest count as "(other)"; a path that is not `/service/method` is
// "(unknown)". grpc_status is "none" when the call ended without one (the client cancelled, or the
// stream was reset).
import { BoundedLabel, LabelledCounts } from './metric-parts.js';
import type { RequestRecord } from './request-record.js';

const MAX_METHODS = 100;

export const GRPC_HELP = 'gRPC calls by route, method (/pkg.Service/Method) and the grpc-status they ended with ("none": no status).';

export class GrpcMetrics {
  private readonly counts = new LabelledCounts(['route', 'method', 'grpc_status']);
  private readonly methods = new BoundedLabel(MAX_METHODS, '(unknown)');

  record(s: RequestRecord): void {
    const route = s.route ?? '';
    this.counts.inc([route, this.methods.of(route, s.operation?.name), s.grpcStatus === undefined ? 'none' : String(s.grpcStatus)]);
  }

  metrics(): object[] {
    return [{ name: 'gatehouse_grpc_requests_total', help: GRPC_HELP, type: 'counter', values: this.counts.values(), aggregator: 'sum' }];
  }
}
