// The trace of one request as the request path carries it: ids, sampling, and the upstream
// attempts waiting to be encoded. Kept apart from the tracer so that what a finished request
// records (request-record.ts) can name it without importing the tracer, which reads that record.
import { epochMs } from './span.js';
import { newSpanId } from './trace-context.js';

/** The trace of one request. */
export class RequestTrace {
  /** The server span's id; only a sampled trace has one (nothing refers to it otherwise). */
  readonly spanId: string;
  readonly startMs: number;
  /** The span id of the upstream attempt in flight (its client span). */
  attemptSpanId = '';
  attemptStartMs = 0;
  /**
   * Finished attempts (sampled traces only), encoded with the server span when the request is
   * observed: in the observer's batch, after the response, not on the response path.
   */
  attempts: AttemptSpan[] | undefined;
  /** The server span is recorded: an attempt that ends later (its abort came late) is encoded at once. */
  ended = false;
  /** The request carried an operation whose arguments ride in the query (a GraphQL GET): spans leave the query out. */
  hideQuery = false;

  constructor(
    readonly traceId: string,
    readonly parentSpanId: string | undefined,
    readonly sampled: boolean,
    readonly traceState: string | undefined,
  ) {
    this.spanId = sampled ? newSpanId() : '';
    this.startMs = sampled ? epochMs() : 0;
  }

  /**
   * A view of this trace for one of several calls in flight at once (a composite route's): the
   * same ids and list of finished attempts, its own attempt in flight.
   */
  forConcurrentCall(): RequestTrace {
    if (this.sampled && !this.ended) this.attempts ??= [];
    const view = Object.create(this) as RequestTrace;
    view.attemptSpanId = '';
    view.attemptStartMs = 0;
    return view;
  }
}

export interface AttemptFacts {
  method: string;
  /** scheme://host:port of the target. */
  origin: string;
  path: string;
  attempt: number;
  status: number | undefined;
  error: Error | undefined;
  /** The call's name, for a composite route's calls. */
  label?: string | undefined;
}

/** A finished upstream attempt, waiting to be encoded as a client span. */
export interface AttemptSpan extends AttemptFacts {
  spanId: string;
  startMs: number;
  endMs: number;
}
