// Real gRPC servers (@grpc/grpc-js, h2c on 127.0.0.1:0) for the routing, health and retry tests:
// each serves test.v1.Greeter and test.v1.Echo answering with its own name, and the standard
// grpc.health.v1.Health/Check with a status the test sets. A server can be told to refuse its
// next calls with UNAVAILABLE (before any message: a trailers-only answer).
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = `
syntax = "proto3";
package test.v1;
message Msg { string text = 1; }
service Greeter {
  rpc Hello(Msg) returns (Msg);
  rpc Special(Msg) returns (Msg);
  rpc Stream(Msg) returns (stream Msg);
  rpc Collect(stream Msg) returns (Msg);
}
service Echo { rpc Say(Msg) returns (Msg); }
`;

const HEALTH_PROTO = `
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

interface Msg {
  text: string;
}
type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN';

/** The constructors of the test protos' services (grpc-js loads them untyped). */
interface Loaded {
  greeter: grpc.ServiceClientConstructor;
  echo: grpc.ServiceClientConstructor;
  health: grpc.ServiceClientConstructor;
}

let loaded: Loaded | undefined;
/** The test protos, loaded once (written to a temporary directory: proto-loader reads files). */
export function protos(): Loaded {
  if (loaded !== undefined) return loaded;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-grpc-'));
  try {
    writeFileSync(join(dir, 'test.proto'), PROTO);
    writeFileSync(join(dir, 'health.proto'), HEALTH_PROTO);
    const def = protoLoader.loadSync([join(dir, 'test.proto'), join(dir, 'health.proto')], { enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def);
    const at = (path: string) =>
      path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], pkg) as grpc.ServiceClientConstructor;
    loaded = { greeter: at('test.v1.Greeter'), echo: at('test.v1.Echo'), health: at('grpc.health.v1.Health') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return loaded;
}

type Callback = (err: grpc.ServiceError | null, res: Msg) => void;
type UnaryMethod = (req: Msg, cb: Callback) => grpc.ClientUnaryCall;
/** A client of test.v1.Greeter or test.v1.Echo (each has only its own methods). */
export interface TestClient extends grpc.Client {
  Hello: UnaryMethod;
  Special: UnaryMethod;
  Say: UnaryMethod;
  Stream(req: Msg): grpc.ClientReadableStream<Msg>;
  Collect(cb: Callback): grpc.ClientWritableStream<Msg>;
}

export interface GrpcTarget {
  name: string;
  url: string;
  /** Calls received, as method paths ("/test.v1.Greeter/Hello"); health checks apart. */
  calls: string[];
  /** Health checks received, by the service name asked about. */
  checks: string[];
  /** What Health/Check answers, by service name ("" = the server). */
  health: Map<string, ServingStatus>;
  /** Refuse this many coming calls with UNAVAILABLE before any message. */
  refuse: number;
  /** Stream: end the next calls with UNAVAILABLE after their first message (in the trailers). */
  failAfterFirst: number;
  close(): Promise<void>;
}

/** `tls`: serve h2 over TLS with this certificate (default h2c). */
export async function startGrpcTarget(name: string, tls?: { cert: string; key: string }): Promise<GrpcTarget> {
  const p = protos();
  const server = new grpc.Server();
  const t: GrpcTarget = {
    name,
    url: '',
    calls: [],
    checks: [],
    health: new Map([['', 'SERVING']]),
    refuse: 0,
    failAfterFirst: 0,
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
  /** Counts the call; true when it is to be refused (the caller answers UNAVAILABLE). */
  const arrive = (path: string): boolean => {
    t.calls.push(path);
    if (t.refuse <= 0) return false;
    t.refuse--;
    return true;
  };
  const unavailable = { code: grpc.status.UNAVAILABLE, details: `${name} is unavailable` };
  const unary =
    (path: string) =>
    (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>): void => {
      if (arrive(path)) return cb(unavailable);
      cb(null, { text: `${name} ${path} ${call.request.text}` });
    };
  server.addService(p.greeter.service, {
    Hello: unary('/test.v1.Greeter/Hello'),
    Special: unary('/test.v1.Greeter/Special'),
    Stream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      if (arrive('/test.v1.Greeter/Stream')) return call.emit('error', unavailable);
      call.write({ text: `${name} 1 ${call.request.text}` });
      if (t.failAfterFirst > 0) {
        t.failAfterFirst--;
        return call.emit('error', unavailable);
      }
      call.write({ text: `${name} 2 ${call.request.text}` });
      call.end();
    },
    Collect: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const texts: string[] = [];
      call.on('data', (m: Msg) => texts.push(m.text));
      call.on('end', () => {
        if (arrive('/test.v1.Greeter/Collect')) return cb(unavailable);
        cb(null, { text: `${name} ${texts.join(',')}` });
      });
    },
  });
  server.addService(p.echo.service, { Say: unary('/test.v1.Echo/Say') });
  server.addService(p.health.service, {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      t.checks.push(call.request.service);
      const status = t.health.get(call.request.service);
      if (status === undefined) return cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
      cb(null, { status });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      tls
        ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }])
        : grpc.ServerCredentials.createInsecure(),
      (err, port) => (err ? reject(err) : resolve(port)),
    ),
  );
  t.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return t;
}

/** A grpc-js client of `service` ("test.v1.Greeter") through `address` (host:port, h2c). */
export function grpcClient(service: 'test.v1.Greeter' | 'test.v1.Echo', address: string): TestClient {
  const Ctor = service === 'test.v1.Greeter' ? protos().greeter : protos().echo;
  return new Ctor(address, grpc.credentials.createInsecure()) as unknown as TestClient;
}

/** A unary call as a promise: the answer's text, or the error's code and details. */
export function unaryCall(
  client: TestClient,
  method: 'Hello' | 'Special' | 'Say',
  text: string,
): Promise<{ text: string } | { code: number; details: string }> {
  return new Promise((resolve) => {
    client[method]({ text }, (err, res) => resolve(err ? { code: err.code, details: err.details } : { text: res.text }));
  });
}

export { grpc };
