// The gRPC benchmark's service (bench/grpc-compare.sh): @grpc/grpc-js serving the test Echo
// service (test/fixtures/echo.proto) over h2c; Unary answers the request's text. Prints its port
// once listening, and on SIGTERM the number of calls it served.
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const proto = fileURLToPath(new URL('../../test/fixtures/echo.proto', import.meta.url));
const def = loader.loadSync(proto, { keepCase: false, longs: String, enums: String, defaults: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as { gatehouse: { test: { Echo: grpc.ServiceClientConstructor } } };
let calls = 0;
const server = new grpc.Server({ 'grpc.max_concurrent_streams': 1000 });
server.addService(pkg.gatehouse.test.Echo.service, {
  unary: (call: grpc.ServerUnaryCall<{ text: string }, unknown>, done: grpc.sendUnaryData<unknown>) => {
    calls++;
    done(null, { text: call.request.text });
  },
});
server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(port);
});
process.on('SIGTERM', () => {
  console.error(`calls ${calls}`);
  server.forceShutdown();
  process.exit(0);
});
