// WebSocket frame boundaries in a byte stream (RFC 6455 §5.2), read from the frame headers only.
// The gateway pipes frames through untouched; it needs to know where a frame ends — to put its
// own close frame on the wire without cutting one in two — and which code a close frame carries
// (the access log's closeCode). Payloads are skipped, never copied or unmasked, except the first
// two bytes of a close frame. The cost is a few comparisons per frame header and per chunk,
// whatever the message size; extensions (permessage-deflate) leave the framing as it is.
import { randomBytes } from 'node:crypto';

const OP_CLOSE = 0x8;
/** Close frames without a status code report this (RFC 6455 §7.1.5). */
export const NO_STATUS = 1005;
export const GOING_AWAY = 1001;

export class FrameReader {
  /** Close frames read so far. */
  closes = 0;
  /** The code of the first close frame read; undefined until one. */
  closeCode: number | undefined;
  /** A length no stream may carry (over 2^53 bytes): the stream cannot be followed any more. */
  broken = false;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  /** A header split across chunks, collected here (at most 14 bytes). */
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  /** In a close frame's payload: bytes of its code read so far (-1: not a close frame). */
  private codeBytes = -1;
  private code = 0;
  private readonly mask = Buffer.alloc(4);
  private masked = false;

  /** Between two frames: a frame of our own may be written here. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerLength === 0;
  }

  /**
   * Reads `chunk` from `from`. Returns where it stopped: the chunk's end, or with `stop`, the end
   * of the first frame that ends in it (`from` itself when already between frames).
   */
  read(chunk: Buffer, from: number, stop: boolean): number {
    if (stop && this.atBoundary) return from;
    let i = from;
    const end = chunk.length;
    while (i < end && !this.broken) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, end - i);
        if (this.codeBytes >= 0 && this.codeBytes < 2) this.readCode(chunk, i, n);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) {
          this.frameEnded();
          if (stop) return i;
        }
        continue;
      }
      i = this.readHeader(chunk, i);
      if (i < 0) return end; // broken
      if (this.headerLength === 0 && this.remaining === 0) {
        this.frameEnded(); // a frame without payload
        if (stop) return i;
      }
    }
    return end;
  }

  /** Reads header bytes from chunk[i]; returns the index after what it took, or -1 for a length no stream can carry. */
  private readHeader(chunk: Buffer, i: number): number {
    const h = this.header;
    // Collect at most the bytes the header needs (its size is known once two bytes are in).
    while (i < chunk.length) {
      h[this.headerLength++] = chunk[i++]!;
      if (this.headerLength >= 2 && this.headerLength === headerSize(h[1]!)) break;
    }
    if (this.headerLength < 2 || this.headerLength !== headerSize(h[1]!)) return i; // the rest comes with the next chunk
    const len7 = h[1]! & 0x7f;
    let length = len7;
    let at = 2;
    if (len7 === 126) {
      length = h.readUInt16BE(2);
      at = 4;
    } else if (len7 === 127) {
      const high = h.readUInt32BE(2);
      if (high > 0x1fffff) {
        this.broken = true; // over 2^53: not a length JavaScript can count
        return -1;
      }
      length = high * 0x1_0000_0000 + h.readUInt32BE(6);
      at = 10;
    }
    this.masked = (h[1]! & 0x80) !== 0;
    if ((h[0]! & 0x0f) === OP_CLOSE) {
      this.codeBytes = 0;
      this.code = 0;
      if (this.masked) h.copy(this.mask, 0, at, at + 4);
    }
    this.remaining = length;
    this.headerLength = 0;
    return i;
  }

  private readCode(chunk: Buffer, i: number, n: number): void {
    for (let k = 0; k < n && this.codeBytes < 2; k++) {
      let b = chunk[i + k]!;
      if (this.masked) b ^= this.mask[this.codeBytes]!;
      this.code = (this.code << 8) | b;
      this.codeBytes++;
    }
  }

  private frameEnded(): void {
    if (this.codeBytes < 0) return;
    this.closes++;
    this.closeCode ??= this.codeBytes === 2 ? this.code : NO_STATUS;
    this.codeBytes = -1;
  }
}

/** Header bytes: 2, the extended length (0, 2 or 8), the masking key (0 or 4). */
function headerSize(second: number): number {
  const len7 = second & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((second & 0x80) !== 0 ? 4 : 0);
}

/**
 * A close frame with `code` and a short ASCII `reason`: unmasked towards a client, masked (as a
 * client must, RFC 6455 §5.3) towards a service.
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = Buffer.from(reason.slice(0, 123), 'latin1');
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  if (!masked) return Buffer.concat([Buffer.from([0x80 | OP_CLOSE, payload.length]), payload]);
  const key = randomBytes(4);
  for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from([0x80 | OP_CLOSE, 0x80 | payload.length]), key, payload]);
}
