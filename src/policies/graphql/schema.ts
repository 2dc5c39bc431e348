// The options of `type: graphql` (docs/graphql.md).
import { z } from 'zod';
import { Duration, Size } from '../../config/units-schema.js';
import { PersistedSchema } from './persisted-schema.js';

const Limit = (what: string, dflt: number) =>
  z
    .number()
    .int()
    .min(1)
    .default(dflt)
    .meta({ description: `The most ${what} an operation may have (default ${dflt}).` });

const Group = z.string().min(1);

const FieldCost = z
  .strictObject({
    cost: z.number().min(0).optional().meta({ description: 'The field’s own cost (instead of objectCost / scalarCost).' }),
    listSize: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: 'The field is a list of this many items when no list argument gives its size.' }),
  })
  .meta({ description: 'One field’s cost.' });

export const CostSchema = z
  .strictObject({
    objectCost: z.number().min(0).default(1).meta({ description: 'Cost of a field with a selection set (an object), default 1.' }),
    scalarCost: z.number().min(0).default(0).meta({ description: 'Cost of a leaf field (scalar or enum), default 0.' }),
    listArguments: z
      .array(z.string().regex(/^[_A-Za-z][_0-9A-Za-z]*$/))
      .default(['first', 'last', 'limit'])
      .meta({ description: 'Arguments whose integer value is a list field’s size (its cost multiplier).' }),
    defaultListSize: z
      .number()
      .int()
      .min(0)
      .default(10)
      .meta({ description: 'The size of a list field (known from the schema or `fields`) with no list argument.' }),
    fields: z
      .record(z.string().regex(/^([_A-Za-z][_0-9A-Za-z]*\.)?[_A-Za-z][_0-9A-Za-z]*$/), FieldCost)
      .default({})
      .meta({ description: 'Per field, by coordinate ("Query.users", with a schema) or by name ("users"): cost and list size.' }),
  })
  .meta({ description: 'How an operation’s cost (complexity) is computed.' });

const SchemaSource = z
  .union([
    z.strictObject({ file: z.string().min(1).meta({ description: 'A schema in SDL, read when the config is compiled.' }) }),
    z.strictObject({
      url: z.url({ protocol: /^https?$/ }).meta({ description: 'A GraphQL endpoint introspected once when the config is compiled.' }),
      headers: z
        .record(z.string(), z.string())
        .default({})
        .meta({ description: 'Fields sent with the introspection query (e.g. a token).' }),
      timeout: Duration.default('5s').meta({ description: 'The longest the introspection may take.' }),
    }),
  ])
  .meta({ description: 'The service’s schema: operations are validated against it before they reach the service.' });

export const graphqlSchema = z.strictObject({
  type: z.literal('graphql'),
  maxDocumentBytes: Size.default('64kb').meta({ description: 'The longest document (the query text), in bytes.' }),
  maxTokens: Limit('lexical tokens in its document', 10_000),
  maxDepth: Limit('levels of nested selections (fragments expanded)', 15),
  maxAliases: Limit('aliases (fragments expanded)', 30),
  maxRootFields: Limit('root fields', 30),
  maxFields: Limit('fields in all (fragments expanded)', 2000),
  maxComplexity: z
    .number()
    .min(1)
    .optional()
    .meta({ description: 'The highest cost an operation may have (see `cost`); no limit when absent.' }),
  cost: CostSchema.default({
    objectCost: 1,
    scalarCost: 0,
    listArguments: ['first', 'last', 'limit'],
    defaultListSize: 10,
    fields: {},
  }),
  introspection: z
    .union([z.boolean(), z.strictObject({ groups: z.array(Group).min(1).meta({ description: 'The consumer groups allowed.' }) })])
    .default(false)
    .meta({ description: 'Whether operations may select __schema / __type: true, false (default), or { groups: [...] }.' }),
  schema: SchemaSource.optional(),
  get: z.boolean().default(true).meta({ description: 'Accept queries sent with GET (mutations never: 405).' }),
  persisted: PersistedSchema.optional().meta({ description: 'Persisted operations: automatic persisted queries, or an allow-list.' }),
  maxBody: Size.default('1mb').meta({ description: 'The largest POST body read (413 past it).' }),
  parseCache: z
    .strictObject({
      maxEntries: z.number().int().min(1).default(1000).meta({ description: 'Most distinct documents kept parsed.' }),
      maxSize: Size.default('32mb').meta({
        description: 'Most memory the kept documents take, in all: their text and parsed syntax trees (estimated).',
      }),
    })
    .default({ maxEntries: 1000, maxSize: '32mb' })
    .meta({ description: 'The parsed documents kept per policy (a document is parsed once while it is kept).' }),
});
export type GraphQLPolicyConfig = z.output<typeof graphqlSchema>;
export type CostConfig = z.output<typeof CostSchema>;
