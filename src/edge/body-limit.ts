// Counts a streaming (chunked) request body on its way to the upstream and fails it once it is
// over the limit. The client request is piped into it (not passed through pipeline()): when the
// limit trips, undici aborts the upstream call and destroys this stream, while the client's
// socket stays open for the 413. Nothing is buffered beyond the stream's high-water mark.
import { Transform, type TransformCallback } from 'node:stream';

export class BodyLimitError extends Error {
  readonly code = 'GW_PAYLOAD_TOO_LARGE';
  constructor(limit: number) {
    super(`request body over ${limit} bytes`);
  }
}

export class BodyLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }

  /** Bytes that have passed (or tripped the limit) so far. */
  get bytes(): number {
    return this.seen;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) cb(new BodyLimitError(this.limit));
    else cb(null, chunk);
  }
}
