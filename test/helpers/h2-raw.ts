// A raw HTTP/2 client for hostile tests: frames written by hand on a TCP or TLS socket, so a test
// can send what no well-behaved client would (a flood of resets, endless CONTINUATION frames,
// SETTINGS and PING floods). Header blocks are HPACK literals without Huffman coding or indexing
// (RFC 7541 §6.2.2), which every decoder must accept. Incoming frames are split and kept with
// their type, flags and stream; payloads are not decoded beyond GOAWAY and RST_STREAM codes.
import net from 'node:net';
import tls from 'node:tls';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

/** Error codes of RFC 9113 §7 the tests look for. */
export const ErrorCode = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1); `first` holds the bits above the prefix. */
function hpackInt(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(bytes.length, 7), bytes]);
}

/** A header block of literal fields without indexing (new names), in the order given. */
export function headerBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]));
}

/** The fields of a plain GET (pseudo-headers first, as RFC 9113 §8.3 requires). */
export function getFields(path: string, authority = 'localhost', scheme = 'http'): [string, string][] {
  return [
    [':method', 'GET'],
    [':scheme', scheme],
    [':path', path],
    [':authority', authority],
  ];
}

export function headers(streamId: number, block: Buffer, opts: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer {
  const flags = (opts.endStream === false ? 0 : Flag.END_STREAM) | (opts.endHeaders === false ? 0 : Flag.END_HEADERS);
  return frame(FrameType.HEADERS, flags, streamId, block);
}

export function continuation(streamId: number, block: Buffer, endHeaders: boolean): Buffer {
  return frame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId, block);
}

export function data(streamId: number, payload: Buffer, endStream: boolean): Buffer {
  return frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId, payload);
}

export function settings(entries: [number, number][] = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

export const settingsAck = (): Buffer => frame(FrameType.SETTINGS, Flag.ACK, 0);

export function ping(n: number, ack = false): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(n, 4);
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, p);
}

export function rstStream(streamId: number, code: number = ErrorCode.CANCEL): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FrameType.RST_STREAM, 0, streamId, p);
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A connection speaking raw HTTP/2: what it sends is up to the test; what it receives is split into frames. */
export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  /** The GOAWAY the server sent, if any: its error code and last stream id. */
  goaway: { code: number; lastStreamId: number } | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.receive(c));
    socket.on('error', () => {}); // a reset by the server is an outcome the test reads, not a failure
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Connects (TLS with ALPN h2 when `tls` is set), sends the preface and an empty SETTINGS frame. */
  static async connect(port: number, opts: { tls?: boolean; settings?: [number, number][] } = {}): Promise<RawH2> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s: net.Socket = opts.tls
        ? tls.connect({ port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => resolve(s))
        : net.connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawH2(socket);
    c.write(Buffer.concat([PREFACE, settings(opts.settings)]));
    return c;
  }

  /** Writes bytes unless the socket is gone; false when it is (the server closed it). */
  write(bytes: Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    return this.socket.write(bytes);
  }

  /** Resolves when a received frame matches, or false when the connection closes first (or after `ms`). */
  async until(match: (f: Frame) => boolean, ms = 10_000): Promise<Frame | false> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(match);
      if (f !== undefined) return f;
      if (this.closed || Date.now() > deadline) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Resolves once the server has closed the connection (true), or false after `ms`. */
  async closedWithin(ms = 10_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.closed;
  }

  count(type: number): number {
    return this.frames.filter((f) => f.type === type).length;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f: Frame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: this.buf.subarray(9, 9 + len),
      };
      this.buf = this.buf.subarray(9 + len);
      if (f.type === FrameType.GOAWAY && f.payload.length >= 8)
        this.goaway = { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
      // The server's SETTINGS must be acknowledged, or it may close the connection for that alone.
      if (f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0) this.write(settingsAck());
      // Frames are kept for the test to read, but a flood's worth of replies would only cost memory.
      if (this.frames.length < 100_000) this.frames.push(f);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
