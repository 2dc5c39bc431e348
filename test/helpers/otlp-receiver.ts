// A real OTLP/HTTP receiver for tests: an HTTP server that accepts trace exports in protobuf
// (decoded with protobufjs, from the OTLP field definitions below) or JSON, and keeps the spans
// in the OTLP/JSON shape.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

// opentelemetry/proto/collector/trace/v1 ExportTraceServiceRequest and what it contains, as
// protobufjs JSON (field numbers from the OTLP .proto files).
const kv = { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } };
const root = protobuf.Root.fromJSON({
  nested: {
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
      },
    },
    KeyValue: kv,
    Event: {
      fields: {
        timeUnixNano: { type: 'fixed64', id: 1 },
        name: { type: 'string', id: 2 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
      },
    },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        traceState: { type: 'string', id: 3 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        events: { rule: 'repeated', type: 'Event', id: 11 },
        status: { type: 'Status', id: 15 },
      },
    },
    Scope: { fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } } },
    ScopeSpans: { fields: { scope: { type: 'Scope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ResourceSpans: { fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } } },
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
  },
});
const ExportRequest = root.lookupType('ExportTraceServiceRequest');

export type ExportDoc<Span = OtlpSpan> = {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { scope?: { name: string; version: string }; spans: Span[] }[];
  }[];
};

/** A span as toObject() gives it with defaults: false: a Status not sent is absent, and so is a code of 0 (proto3 leaves it off the wire). arrays: true gives every repeated field, empty or not. */
type DecodedSpan = Omit<OtlpSpan, 'status'> & { status?: { code?: number; message?: string } };

/** Protobuf → the OTLP/JSON shape (nanoseconds and int64 as decimal strings; ids still base64, see hexIds). */
function fromProtobuf(body: Buffer): ExportDoc<DecodedSpan> {
  const msg = ExportRequest.decode(body);
  return ExportRequest.toObject(msg, {
    longs: String,
    bytes: String,
    defaults: false,
    arrays: true,
    oneofs: false,
    json: true,
  }) as unknown as ExportDoc<DecodedSpan>;
}

/** A protobuf export body as the OTLP/JSON document (what the receiver keeps). */
export function decodeProtobufExport(body: Buffer): ExportDoc {
  const doc = fromProtobuf(body);
  hexIds(doc);
  return doc;
}

/** Ids to hex, and the status OTLP/JSON always has; the decoded document is then an ExportDoc. */
function hexIds(doc: ExportDoc<DecodedSpan>): asserts doc is ExportDoc {
  for (const rs of doc.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        // protobufjs writes bytes as base64.
        s.traceId = Buffer.from(s.traceId, 'base64').toString('hex');
        s.spanId = Buffer.from(s.spanId, 'base64').toString('hex');
        if (s.parentSpanId) s.parentSpanId = Buffer.from(s.parentSpanId, 'base64').toString('hex');
        s.status ??= { code: 0 };
        s.status.code ??= 0;
      }
    }
  }
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  events: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
  status: { code: number; message?: string };
  /** Added by the receiver: service.name of the resource. */
  service?: string;
}

export interface OtlpReceiver {
  url: string;
  spans: OtlpSpan[];
  requests: number;
  /** The content type of each export received. */
  contentTypes: string[];
  /** Status to answer with (default 200). */
  status: number;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const rx = { spans: [] as OtlpSpan[], requests: 0, contentTypes: [] as string[], status: 200 } as OtlpReceiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      rx.requests++;
      const type = req.headers['content-type'];
      if (req.url !== '/v1/traces' || (type !== 'application/json' && type !== 'application/x-protobuf')) {
        res.writeHead(415).end();
        return;
      }
      rx.contentTypes.push(type);
      const body = Buffer.concat(chunks);
      let doc: ExportDoc;
      if (type === 'application/json') doc = JSON.parse(body.toString('utf8')) as ExportDoc;
      else doc = decodeProtobufExport(body);
      for (const rs of doc.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
        for (const ss of rs.scopeSpans) for (const s of ss.spans) rx.spans.push({ ...s, service });
      }
      res.writeHead(rx.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(rx, {
    url: `http://127.0.0.1:${port}/v1/traces`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  });
}

export function attr(span: OtlpSpan, key: string): unknown {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if ('intValue' in v) return Number(v.intValue);
  return Object.values(v)[0];
}
