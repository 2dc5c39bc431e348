// A real GraphQL service for tests, built with the reference `graphql` package over node:http:
// GraphQL over HTTP (POST JSON, GET with query/variables/operationName), executing against a small
// schema of users, posts and friends. It counts and records what reaches it, so a test can prove
// the gateway refused an operation before the service saw it.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql, type GraphQLSchema } from 'graphql';

/** The service's schema: the one examples/graphql.yaml names (examples/graphql-schema.graphql). */
export const SDL = readFileSync(new URL('../../../examples/graphql-schema.graphql', import.meta.url), 'utf8');

interface UserRow {
  id: string;
  name: string;
  email: string;
}
const USERS: UserRow[] = Array.from({ length: 20 }, (_, i) => ({
  id: String(i + 1),
  name: `user${i + 1}`,
  email: `u${i + 1}@example.com`,
}));
const posts = new Map<string, { id: string; title: string; authorId: string }>([['1', { id: '1', title: 'first', authorId: '1' }]]);

const take = (n: unknown) => USERS.slice(0, Math.max(0, Math.min(typeof n === 'number' ? n : 10, USERS.length)));
const userObj = (u: UserRow): Record<string, unknown> => ({
  ...u,
  friends: (args: { first?: number }) => take(args.first).map(userObj),
  posts: () => [...posts.values()].filter((p) => p.authorId === u.id).map(postObj),
});
const postObj = (p: { id: string; title: string; authorId: string }): Record<string, unknown> => ({
  id: p.id,
  title: p.title,
  author: () => userObj(USERS.find((u) => u.id === p.authorId) ?? USERS[0]!),
});

const root = {
  user: (args: { id: string }) => {
    const u = USERS.find((x) => x.id === args.id);
    return u ? userObj(u) : null;
  },
  users: (args: { first?: number }) => take(args.first).map(userObj),
  post: (args: { id: string }) => {
    const p = posts.get(args.id);
    return p ? postObj(p) : null;
  },
  search: (args: { term: string }) => [...posts.values()].filter((p) => p.title.includes(args.term)).map(postObj),
  hello: () => 'world',
  createPost: (args: { title: string; authorId: string }) => {
    const p = { id: String(posts.size + 1), title: args.title, authorId: args.authorId };
    posts.set(p.id, p);
    return postObj(p);
  },
  login: (args: { user: string; password: string }) => args.user === 'admin' && args.password === 'hunter2',
};

export interface GraphQLSeen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The parsed request: { query, variables, operationName, extensions }. */
  request: Record<string, unknown>;
}

export interface GraphQLService {
  url: string;
  port: number;
  schema: GraphQLSchema;
  seen: GraphQLSeen[];
  close(): Promise<void>;
}

/** Starts the service on 127.0.0.1:0; it answers GraphQL at any path. */
export async function startGraphQLService(): Promise<GraphQLService> {
  const schema = buildSchema(SDL);
  const seen: GraphQLSeen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let request: Record<string, unknown>;
        try {
          if (req.method === 'GET') {
            const q = new URL(req.url!, 'http://x').searchParams;
            request = {
              query: q.get('query') ?? undefined,
              operationName: q.get('operationName') ?? undefined,
              variables: q.has('variables') ? (JSON.parse(q.get('variables')!) as unknown) : undefined,
              extensions: q.has('extensions') ? (JSON.parse(q.get('extensions')!) as unknown) : undefined,
            };
          } else request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ message: 'bad request' }] }));
          return;
        }
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, request });
        if (typeof request.query !== 'string') {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ message: 'no query (this service does not do persisted queries)' }] }));
          return;
        }
        const result = await graphql({
          schema,
          source: request.query,
          rootValue: root,
          variableValues: request.variables as Record<string, unknown> | undefined,
          operationName: request.operationName as string | undefined,
        });
        const text = JSON.stringify(result);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    schema,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
