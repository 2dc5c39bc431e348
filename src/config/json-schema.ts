// The JSON Schema of the config, derived from the zod schema. Committed as
// schema/gatehouse.schema.json for editors; a test fails when the committed file drifts.
import { z } from 'zod';

export const SCHEMA_ID = 'https://gatehouse.dev/schema/gatehouse.schema.json';

/** `schema`: the built-in one (policies/index.ts), or one built with plugins' policy types (buildConfigSchema). */
export function configJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...json, $id: SCHEMA_ID };
}

export function configJsonSchemaText(schema: z.ZodType): string {
  return JSON.stringify(configJsonSchema(schema), null, 2) + '\n';
}
