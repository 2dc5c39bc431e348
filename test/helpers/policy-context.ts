// A RequestContext for policy unit tests: only what a policy reads (method, client IP, raw headers).
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../../src/policies/types.js';

export function testContext(opts: { method?: string; clientIp?: string; headers?: Record<string, string> } = {}): RequestContext {
  const rawHeaders = Object.entries(opts.headers ?? {}).flat();
  return {
    req: { rawHeaders, headers: {} } as unknown as IncomingMessage,
    requestId: 'test',
    method: opts.method ?? 'GET',
    host: 'api.example',
    path: '/',
    query: '',
    clientIp: opts.clientIp ?? '127.0.0.1',
    routeName: 'r',
    serviceName: 's',
    params: {},
    identity: undefined,
    locals: new Map(),
  };
}
