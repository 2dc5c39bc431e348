// A real gRPC service (@grpc/grpc-js, h2c on 127.0.0.1:0) for the transcoding tests, built from
// test/fixtures/grpc/users.proto through the gateway's own proto loader (its google.api imports
// are bundled with the gateway), so the service and the gateway read the same file.
//   GetUser: id 404 → NOT_FOUND with google.rpc.Status details (ErrorInfo, BadRequest); id 1 → a
//     64 KiB avatar; `delay_ms` before answering; the org and the view mask echoed in `tags`.
//   ListUsers: `count` users, failing with `fail_code` after `fail_after` of them when set.
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadProtos } from '../../src/policies/grpc-transcode/protos.js';

export const USERS_PROTO = fileURLToPath(new URL('../../../test/fixtures/grpc/users.proto', import.meta.url));

export interface UsersService {
  url: string;
  port: number;
  root: protobuf.Root;
  /** Calls by method name. */
  calls: Map<string, number>;
  /** 'cancelled' (method name) when a call was cancelled under it. */
  events: EventEmitter;
  close(): Promise<void>;
}

type Msg = Record<string, unknown>;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Serves `proto` (the test fixture, or the example's subset of it) with grpc.health.v1 too. */
export async function startUsersService(proto = USERS_PROTO): Promise<UsersService> {
  const loaded = loadProtos({ protos: [proto] });
  if (!loaded.ok) throw new Error(loaded.message);
  const root = loaded.root;
  const definition = serviceDefinition(root, { longs: String, enums: String, defaults: true });
  const calls = new Map<string, number>();
  const events = new EventEmitter();
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  const Status = root.lookupType('google.rpc.Status');
  const Any = (type: string, value: Msg) => {
    const t = root.lookupType(type);
    return { type_url: `type.googleapis.com/${type}`, value: t.encode(t.fromObject(value)).finish() };
  };
  const user = (id: string, extra: Msg = {}): Msg => ({
    id,
    display_name: 'Ada',
    role: 'ADMIN',
    avatar: Buffer.from('png!'),
    created_at: { seconds: 1767225600, nanos: 500_000_000 },
    session: { seconds: 1, nanos: 500_000_000 },
    age: { value: 36 },
    // (protobufjs names the well-known types' fields in lowerCamel)
    profile: { fields: { langs: { listValue: { values: [{ stringValue: 'en' }, { numberValue: 2 }] } }, admin: { boolValue: true } } },
    tags: [],
    labels: { team: 'core' },
    extra: Any('google.protobuf.Duration', { seconds: 2 }),
    ...extra,
  });
  const server = new grpc.Server();
  server.addService(definition, {
    GetUser: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('GetUser');
      call.on('cancelled', () => events.emit('cancelled', 'GetUser'));
      const r = call.request;
      void sleep(Number(r.delay_ms)).then(() => {
        if (call.cancelled) return;
        if (r.id === '404') {
          const md = new grpc.Metadata();
          const details = Status.encode(
            Status.fromObject({
              code: 5,
              message: 'no user 404',
              details: [
                Any('google.rpc.ErrorInfo', { reason: 'USER_NOT_FOUND', domain: 'users.acme.example', metadata: { id: '404' } }),
                Any('google.rpc.BadRequest', { field_violations: [{ field: 'id', description: 'unknown id' }] }),
              ],
            }),
          ).finish();
          md.set('grpc-status-details-bin', Buffer.from(details));
          return cb({ code: grpc.status.NOT_FOUND, details: 'no user 404', metadata: md });
        }
        const tags = [`org:${String(r.org_id)}`, `view:${((r.view as { paths?: string[] } | null)?.paths ?? []).join('|')}`];
        cb(null, user(String(r.id), { tags, avatar: r.id === '1' ? Buffer.alloc(65536, 1) : Buffer.from('png!') }));
      });
    },
    GetUserName: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('GetUserName');
      cb(null, user(String(call.request.id), { display_name: `Ada ${String(call.request.id)}` }));
    },
    CreateUser: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('CreateUser');
      const u = call.request.user as Msg;
      cb(null, { ...u, id: '1000', tags: [`validate_only:${String(call.request.validate_only)}`] });
    },
    UpdateUser: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('UpdateUser');
      const mask = (call.request.update_mask as { paths?: string[] } | null)?.paths ?? [];
      cb(null, { ...(call.request.user as Msg), tags: mask });
    },
    SearchUsers: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('SearchUsers');
      const r = call.request;
      const users = Array.from({ length: Number(r.limit) }, (_, i) => ({ id: String(i + 1), display_name: String(r.query), role: r.role }));
      cb(null, { users, total: '9007199254740993' });
    },
    DeleteUser: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('DeleteUser');
      cb(null, {});
    },
    ListUsers: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      count('ListUsers');
      call.on('cancelled', () => events.emit('cancelled', 'ListUsers'));
      const r = call.request;
      void (async () => {
        const failAfter = Number(r.fail_code) > 0 ? Number(r.fail_after) : Infinity;
        for (let i = 0; i < Number(r.count); i++) {
          if (call.cancelled) return;
          if (i === failAfter) break;
          call.write({ id: String(i + 1), display_name: `user ${i + 1}` });
          if (Number(r.delay_ms) > 0) await sleep(Number(r.delay_ms));
        }
        if (call.cancelled) return;
        if (failAfter !== Infinity) return void call.emit('error', { code: Number(r.fail_code), details: 'listing failed' });
        events.emit('ended', 'ListUsers');
        call.end();
      })();
    },
    CountUsers: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      count('CountUsers');
      cb(null, { total: '3' });
    },
  });
  // grpc.health.v1.Health/Check, by hand: every answer is SERVING (field 1 = 1).
  const raw = (b: Buffer) => b;
  server.addService(
    {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    { Check: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from([0x08, 0x01])) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    root,
    calls,
    events,
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}

/** A grpc-js client for the service's native calls (through the gateway). */
/** The service's methods for grpc-js, serialised by the protos' own types (decoded as `decoded` says). */
function serviceDefinition(root: protobuf.Root, decoded: protobuf.IConversionOptions): Record<string, grpc.MethodDefinition<Msg, Msg>> {
  const definition: Record<string, grpc.MethodDefinition<Msg, Msg>> = {};
  for (const m of root.lookupService('acme.users.v1.Users').methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    definition[m.name] = {
      path: `/acme.users.v1.Users/${m.name}`,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
      requestSerialize: (o: Msg) => Buffer.from(req.encode(req.fromObject(o)).finish()),
      requestDeserialize: (b: Buffer) => req.toObject(req.decode(b), decoded),
      responseSerialize: (o: Msg) => Buffer.from(res.encode(res.fromObject(o)).finish()),
      responseDeserialize: (b: Buffer) => res.toObject(res.decode(b), decoded),
    };
  }
  return definition;
}

/** A grpc-js client for the service's native calls (through the gateway). */
export function usersClient(root: protobuf.Root, hostPort: string): grpc.Client & Record<string, grpc.MethodDefinition<Msg, Msg>> {
  const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(root, { longs: String, enums: String, defaults: true }), 'Users');
  return new Ctor(hostPort, grpc.credentials.createInsecure()) as never;
}
