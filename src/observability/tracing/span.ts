// A finished span as the tracer records it. The exporter encodes it into its batch at once
// (protobuf) or keeps it until the batch is sent (JSON).

export const SPAN_KIND_SERVER = 2;
export const SPAN_KIND_CLIENT = 3;

export type AttributeValue = string | number | boolean;

/**
 * Attributes as a flat list: key, value, key, value… (an undefined value is left out when
 * encoded). A list, not an object: walking an object's keys per span cost more than encoding.
 */
export type AttributeList = (string | AttributeValue | undefined)[];

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  traceState: string | undefined;
  name: string;
  kind: typeof SPAN_KIND_SERVER | typeof SPAN_KIND_CLIENT;
  /** Epoch milliseconds (fractional). */
  startMs: number;
  endMs: number;
  attributes: AttributeList;
  /** An error: the span's status is ERROR with this message; `exception` adds an exception event. */
  error: string | undefined;
  exception: { type: string; message: string } | undefined;
}

/** Epoch milliseconds now, with sub-millisecond precision. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
