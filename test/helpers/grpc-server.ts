// A real gRPC service (@grpc/grpc-js, h2c on 127.0.0.1:0) from test/fixtures/echo.proto, with one
// method of each shape, and a real grpc-js client for it. Every call's trailers carry binary
// metadata (`x-echo-bin`, the request's `text` as bytes) and text metadata; a Unary call with
// `count` > 0 fails with that status, its `fail_message` and the same trailers. `events` tells
// the test what the service saw: 'cancelled' (method name) when a call was cancelled under it.
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('../../../test/fixtures/echo.proto', import.meta.url));
/** Both sides take messages far larger than grpc-js's 4 MB default. */
const MAX_MESSAGE = 64 * 1024 * 1024;

export interface EchoRequest {
  text?: string;
  payload?: Buffer;
  count?: number;
  failMessage?: string;
  delayMs?: number;
}
export interface EchoReply {
  text: string;
  payload: Buffer;
  index: number;
}

export type EchoClient = grpc.Client & {
  Unary(req: EchoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<EchoReply>): grpc.ClientUnaryCall;
  ServerStream(req: EchoRequest, md: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<EchoReply>;
  ClientStream(md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<EchoReply>): grpc.ClientWritableStream<EchoRequest>;
  Bidi(md: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<EchoRequest, EchoReply>;
};

function echoService(): {
  service: grpc.ServiceDefinition;
  Client: new (address: string, creds: grpc.ChannelCredentials, opts?: object) => EchoClient;
} {
  const def = protoLoader.loadSync(PROTO, { keepCase: false, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    gatehouse: { test: { Echo: grpc.ServiceClientConstructor & { service: grpc.ServiceDefinition } } };
  };
  const ctor = pkg.gatehouse.test.Echo;
  return { service: ctor.service, Client: ctor as never };
}

/** A gRPC status named by its number (the request's `count`). */
function statusOf(n: number): grpc.status {
  const found = Object.values(grpc.status).find((v): v is grpc.status => Number(v) === n);
  if (found === undefined) throw new Error(`no gRPC status ${n}`);
  return found;
}

function trailing(text: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-echo-bin', Buffer.from(text ?? '', 'utf8'));
  md.set('x-echo-text', 'trailer');
  return md;
}

/** Unref'd: a call cancelled while it waits must not keep the test process alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export interface GrpcTestServer {
  port: number;
  url: string;
  events: EventEmitter;
  /** Resolves when a call of `method` is cancelled under the service (from now on). */
  cancelled(method: string): Promise<void>;
  close(): Promise<void>;
}

export async function startGrpcServer(): Promise<GrpcTestServer> {
  const Echo = echoService();
  const events = new EventEmitter();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE, 'grpc.max_send_message_length': MAX_MESSAGE });
  const watch = (name: string, call: { on(e: 'cancelled', f: () => void): unknown }): void => {
    call.on('cancelled', () => events.emit('cancelled', name));
  };
  server.addService(Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      watch('Unary', call);
      const r = call.request;
      const fromClient = call.metadata.get('x-client')[0];
      void sleep(r.delayMs ?? 0).then(() => {
        if (call.cancelled) return;
        if ((r.count ?? 0) > 0) return cb({ code: statusOf(r.count!), details: r.failMessage ?? '', metadata: trailing(r.text) });
        const text = fromClient === undefined ? (r.text ?? '') : `${r.text ?? ''}|${String(fromClient)}`;
        cb(null, { text, payload: r.payload ?? Buffer.alloc(0), index: 0 }, trailing(r.text));
      });
    },
    ServerStream: (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
      watch('ServerStream', call);
      const r = call.request;
      void (async () => {
        for (let i = 0; i < (r.count ?? 0); i++) {
          if (call.cancelled) return;
          call.write({ text: r.text ?? '', payload: r.payload ?? Buffer.alloc(0), index: i });
          if ((r.delayMs ?? 0) > 0) await sleep(r.delayMs!);
        }
        if (!call.cancelled) call.end(trailing(r.text));
      })();
    },
    ClientStream: (call: grpc.ServerReadableStream<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      watch('ClientStream', call);
      const texts: string[] = [];
      let bytes = 0;
      call.on('data', (m: EchoRequest) => {
        texts.push(m.text ?? '');
        bytes += m.payload?.length ?? 0;
      });
      call.on('end', () => cb(null, { text: texts.join(','), payload: Buffer.alloc(0), index: bytes }, trailing(texts.join(','))));
    },
    Bidi: (call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) => {
      watch('Bidi', call);
      let i = 0;
      call.on('data', (m: EchoRequest) =>
        call.write({ text: (m.text ?? '').toUpperCase(), payload: m.payload ?? Buffer.alloc(0), index: i++ }),
      );
      call.on('end', () => call.end(trailing('bidi')));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    events,
    cancelled: (method) =>
      new Promise<void>((resolve) => {
        const on = (m: string): void => {
          if (m !== method) return;
          events.off('cancelled', on);
          resolve();
        };
        events.on('cancelled', on);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}

/**
 * A grpc-js client of the Echo service at host:port (plaintext h2c), taking large messages;
 * `authority` sets the :authority it sends (routes by host).
 */
export function echoClient(hostPort: string, authority?: string): EchoClient {
  const { Client } = echoService();
  return new Client(hostPort, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': MAX_MESSAGE,
    'grpc.max_send_message_length': MAX_MESSAGE,
    ...(authority === undefined ? {} : { 'grpc.default_authority': authority }),
  });
}

/** A unary call as a promise: the reply or the error, and the trailers (metadata from the status). */
export function unary(
  client: EchoClient,
  req: EchoRequest,
  opts: { metadata?: grpc.Metadata; deadlineMs?: number } = {},
): Promise<{ reply?: EchoReply; error?: grpc.ServiceError; trailers?: grpc.Metadata; headers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    const out: { reply?: EchoReply; error?: grpc.ServiceError; trailers?: grpc.Metadata; headers?: grpc.Metadata } = {};
    const callOpts: grpc.CallOptions = opts.deadlineMs === undefined ? {} : { deadline: Date.now() + opts.deadlineMs };
    const call = client.Unary(req, opts.metadata ?? new grpc.Metadata(), callOpts, (err, reply) => {
      if (err) out.error = err;
      else out.reply = reply;
    });
    call.on('metadata', (md) => (out.headers = md));
    call.on('status', (s) => {
      out.trailers = s.metadata;
      // The callback runs before 'status'; resolve after both.
      setImmediate(() => resolve(out));
    });
  });
}

export { grpc };
