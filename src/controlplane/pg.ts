// Connections to the config store. pg is imported here only: the data plane never sees it.
import pg from 'pg';

export type { ClientBase } from 'pg';

/** How long a connection attempt may take: an unreachable database must not stall a start. */
const CONNECT_TIMEOUT_MS = 3000;

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
  // An error after connecting (the server went away) is reported through 'error': without a
  // listener it would be an uncaught exception.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/** A quoted SQL identifier (the schema name is validated too; this is the second fence). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
