// A response translated as it streams by a responseBody policy's ResponseTransform (decision
// 0011): the service's chunks go through the transform, and the client's head waits for its first
// output, so that a transform can still choose the status from what the body says (a gRPC error
// in the trailers of a transcoded call becomes a 404). A body that ends before any output goes
// with its own Content-Length; one with output before its end streams.
import type { HeaderList, ResponseInfo, ResponseTransform } from '../policies/types.js';
import { BodyRefusal } from '../policies/types.js';
import type { ErrorAnswer } from './respond.js';
import { removeHeader } from './header-list.js';

/** Where a transformed response goes: the exchange's client side (or the rewrites after it). */
export interface TransformSink {
  head(status: number, headers: HeaderList): void;
  write(chunk: Buffer): boolean;
  end(): void;
  /** The gateway answers instead: nothing was sent yet (the upstream call is stopped). */
  refuse(answer: ErrorAnswer): void;
  /** The transform failed after the head went out, or failed with something else than a refusal. */
  crashed(err: unknown): void;
  /** The head went out and the transform failed: the response is broken off. */
  broke(err: unknown): void;
}

export class TransformedResponse {
  private started = false;
  private done = false;

  constructor(
    private readonly info: ResponseInfo,
    private readonly transform: ResponseTransform,
    private readonly sink: TransformSink,
  ) {}

  /** A chunk of the service's body; false when the client is full (the sink's backpressure). */
  data(chunk: Buffer): boolean {
    if (this.done) return true;
    let out: Buffer | undefined;
    try {
      out = this.transform.data(chunk, this.info);
      if (out === undefined || out.length === 0) return true;
      // The head may fail too (a rewrite policy asked about it, a header the transform set): nothing went out then.
      if (!this.started) this.start(undefined);
    } catch (err) {
      this.fail(err);
      return true;
    }
    return this.sink.write(out);
  }

  /** The service's body ended, with its trailers. */
  end(trailers: HeaderList | undefined): void {
    if (this.done) return;
    let out: Buffer | undefined;
    try {
      out = this.transform.end(trailers, this.info);
      if (!this.started) this.start(out?.length ?? 0); // as in data()
    } catch (err) {
      this.fail(err);
      return;
    }
    this.done = true;
    if (out !== undefined && out.length > 0) this.sink.write(out);
    this.sink.end();
  }

  /** The body will not end. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      this.transform.abort?.();
    } catch {
      // a transform's cleanup failing changes nothing: the response is over either way
    }
  }

  private start(length: number | undefined): void {
    const headers = this.info.headers;
    removeHeader(headers, 'content-length');
    removeHeader(headers, 'transfer-encoding');
    if (length !== undefined) headers.push('content-length', String(length));
    this.sink.head(this.info.status, headers);
    this.started = true;
  }

  private fail(err: unknown): void {
    this.done = true;
    try {
      this.transform.abort?.();
    } catch {
      // as in abort()
    }
    if (this.started) return this.sink.broke(err);
    if (err instanceof BodyRefusal)
      this.sink.refuse({ kind: 'error', code: err.code, message: err.message, details: err.details, status: err.status });
    else this.sink.crashed(err);
  }
}
