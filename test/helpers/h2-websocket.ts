// A WebSocket client over HTTP/2 (RFC 8441) for tests: node:http2 opens the extended CONNECT
// stream, and a small RFC 6455 framer written here speaks on it — masked frames out, unmasked in,
// the close handshake answered. No test library speaks WebSockets over HTTP/2 (ws cannot).
import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';
import { randomBytes } from 'node:crypto';
import { within } from './child.js';

/** A session whose peer's SETTINGS have arrived (a client may send :protocol only after them). */
export async function h2Session(origin: string, opts: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  const s = http2.connect(origin, opts);
  try {
    await within(
      `the SETTINGS of ${origin}`,
      new Promise<void>((resolve, reject) => {
        s.once('remoteSettings', () => resolve());
        s.once('error', reject);
      }),
    );
  } catch (err) {
    s.destroy();
    throw err;
  }
  s.on('error', () => {}); // a test that cares watches its streams
  return s;
}

export interface Message {
  opcode: number;
  data: Buffer;
}

export interface Opened {
  status: number;
  headers: IncomingHttpHeaders;
  stream: ClientHttp2Stream;
  /** The answer's body when the handshake was refused (status other than 200). */
  body: string;
  /** The gateway's error code in that body. */
  code: string | undefined;
}

/** Sends the extended CONNECT and waits for its answer; a refusal's body is read to its end. */
export async function openWebSocket(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  scheme = 'http',
): Promise<Opened> {
  const stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': scheme,
      ':path': path,
      ':authority': 'localhost',
      'sec-websocket-version': '13',
      ...headers,
    },
    { endStream: false },
  );
  const head = await within(
    `the answer to CONNECT ${path}`,
    new Promise<IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
      stream.once('close', () => reject(new Error(`stream closed without an answer (RST_STREAM ${stream.rstCode})`)));
    }),
  );
  const status = Number(head[':status']);
  if (status === 200) return { status, headers: head, stream, body: '', code: undefined };
  let body = '';
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => (body += c));
  await within(`the body of the ${status}`, new Promise<void>((resolve) => stream.once('close', () => resolve())));
  let code: string | undefined;
  try {
    code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status, headers: head, stream, body, code };
}

/** One WebSocket on an open stream: send messages, read them, close. */
export class StreamSocket {
  private buf = Buffer.alloc(0);
  private readonly messages: Message[] = [];
  private readonly waiters: (() => void)[] = [];
  /** The peer's close frame: its code (1005 without one) and reason. */
  closeFrame: { code: number; reason: string } | undefined;
  /** The stream has closed. */
  ended = false;
  private closeSent = false;

  constructor(readonly stream: ClientHttp2Stream) {
    stream.on('data', (c: Buffer) => this.read(c));
    stream.on('error', () => {});
    stream.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  sendText(text: string): void {
    this.stream.write(frame(0x1, Buffer.from(text)));
  }

  sendBinary(data: Buffer): void {
    this.stream.write(frame(0x2, data));
  }

  /** Sends a close frame (and ends the stream once the peer's arrives). */
  close(code = 1000, reason = ''): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2);
    this.stream.write(frame(0x8, payload));
  }

  async next(): Promise<Message> {
    await within(
      'a message',
      (async () => {
        while (this.messages.length === 0) {
          if (this.ended || this.closeFrame !== undefined) throw new Error('the connection closed before a message');
          await new Promise<void>((r) => this.waiters.push(r));
        }
      })(),
    );
    return this.messages.shift()!;
  }

  /** Waits for the peer's close frame and the end of the stream. */
  async closed(): Promise<{ code: number; reason: string }> {
    await within(
      'the close frame and the end of the stream',
      (async () => {
        while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
      })(),
    );
    if (this.closeFrame === undefined) throw new Error('the stream closed without a close frame');
    return this.closeFrame;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private read(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const f = parseFrame(this.buf);
      if (f === undefined) break;
      this.buf = this.buf.subarray(f.size);
      if (f.opcode === 0x8) {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
        this.closeFrame ??= { code, reason: f.payload.subarray(2).toString() };
        if (!this.closeSent) this.close(code === 1005 ? 1000 : code);
        this.stream.end();
      } else if (f.opcode !== 0x9 && f.opcode !== 0xa) this.messages.push({ opcode: f.opcode, data: f.payload });
    }
    this.wake();
  }
}

/** A client frame: FIN, the opcode, masked with a fresh key. */
function frame(opcode: number, payload: Buffer): Buffer {
  const key = randomBytes(4);
  const n = payload.length;
  let head: Buffer;
  if (n < 126) head = Buffer.from([0x80 | opcode, 0x80 | n]);
  else if (n < 65536) {
    head = Buffer.from([0x80 | opcode, 0x80 | 126, 0, 0]);
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.from([0x80 | opcode, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0]);
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, key, masked]);
}

/** A whole server frame at the start of `buf` (unfragmented messages only: what the tests' echo sends). */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; size: number } | undefined {
  if (buf.length < 2) return undefined;
  if ((buf[1]! & 0x80) !== 0) throw new Error('a frame from the server is masked');
  let len = buf[1]! & 0x7f;
  let at = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    at = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    at = 10;
  }
  if (buf.length < at + len) return undefined;
  return { opcode: buf[0]! & 0x0f, payload: buf.subarray(at, at + len), size: at + len };
}
