// The JSON Schema of the config, derived from the zod schema. Committed as
// schema/gatehouse.schema.json for editors; a test fails when the committed file drifts.
import { z } from 'zod';
import { ConfigSchema } from './schema.js';

export const SCHEMA_ID = 'https://gatehouse.dev/schema/gatehouse.schema.json';

export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, $id: SCHEMA_ID };
}

export function configJsonSchemaText(): string {
  return JSON.stringify(configJsonSchema(), null, 2) + '\n';
}
