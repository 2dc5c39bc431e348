// Top-level `configStore:` — where the config lives when it is not the file's (docs/cluster.md).
import { z } from 'zod';

const Interval = z.number().int().min(50).max(3_600_000);

export const ConfigStoreSchema = z
  .strictObject({
    type: z.literal('postgres'),
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: 'a PostgreSQL URL starts with postgres:// or postgresql://' })
      .meta({ description: 'postgres://user[:password]@host:port/database' }),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'a schema name is lower-case letters, digits and _, starting with a letter or _' })
      .default('gatehouse')
      .meta({ description: 'The PostgreSQL schema holding the tables (created by `gatehouse migrate`).' }),
    snapshot: z.string().min(1).optional().meta({
      description:
        'A file where each applied version is written; an instance that starts while the database is down boots from it (without it, it refuses to start).',
    }),
    pollIntervalMs: Interval.default(5000).meta({
      description: 'How often the latest version is checked besides LISTEN/NOTIFY (the safety net), in milliseconds.',
    }),
    heartbeatIntervalMs: Interval.default(2000).meta({
      description: 'How often this instance records its applied version in the cluster table, in milliseconds.',
    }),
  })
  .meta({
    description:
      'Keep the config (all but listen, admin, workers, server, log and configStore) in PostgreSQL, versioned and shared by every instance.',
  });

export type ConfigStoreConfig = z.output<typeof ConfigStoreSchema>;

/** Keys that stay in the boot file when the config lives in the store. */
export const BOOT_KEYS = ['listen', 'admin', 'workers', 'server', 'log', 'configStore'] as const;
