// gRPC's length-prefixed messages on an HTTP/2 body: a 1-byte compressed flag, a 4-byte big-endian
// length, then the message. A service's body arrives in chunks that cut messages anywhere; the
// reader keeps what it needs across them and bounds every message it will hold.

/** One message as a gRPC body carries it. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Why a body cannot be read as gRPC messages. */
export class FrameError extends Error {
  constructor(
    message: string,
    /** The message is larger than the reader may hold. */
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

/** Reads whole messages out of a body's chunks as they come. */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** The messages this chunk completes (none while one is still arriving). Throws a FrameError. */
  push(chunk: Buffer): Buffer[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Buffer[] = [];
    while (this.pendingBytes >= 5) {
      const head = this.peek(5);
      if (head[0] !== 0) {
        // Compressed (flag 1) or a flag gRPC does not define: the service was asked for identity
        // (grpc-accept-encoding), so neither is an answer this reader can turn into JSON.
        throw new FrameError(head[0] === 1 ? 'the service sent a compressed message' : `unknown message flag ${head[0]}`);
      }
      const length = head.readUInt32BE(1);
      if (length > this.maxMessageBytes)
        throw new FrameError(`a message of ${length} bytes is over the limit of ${this.maxMessageBytes}`, true);
      if (this.pendingBytes < 5 + length) break;
      const whole = this.take(5 + length);
      out.push(whole.subarray(5));
    }
    return out;
  }

  /** The body ended: throws when it ended inside a message. */
  end(): void {
    if (this.pendingBytes > 0) throw new FrameError(`the body ended inside a message (${this.pendingBytes} bytes left over)`);
  }

  private peek(n: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= n) return first;
    this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0]!;
  }

  private take(n: number): Buffer {
    const all = this.peek(n);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes -= n;
    return taken;
  }
}
