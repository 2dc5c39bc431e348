// `match.graphql`: routing by the GraphQL operation a request carries (its type, its name, its
// root fields), e.g. mutations to a write service. Tested by the data plane with the body read
// (dataplane/body-match.ts), like `match.body`.
import { z } from 'zod';

const GraphQLName = z.string().regex(/^[_A-Za-z][_0-9A-Za-z]*$/, { error: 'expected a GraphQL name' });
const OperationType = z.enum(['query', 'mutation', 'subscription']);

export const GraphQLMatch = z
  .strictObject({
    operationType: z
      .union([OperationType, z.array(OperationType).min(1)])
      .optional()
      .meta({ description: 'query, mutation or subscription (or a list): the operation is of this type.' }),
    operationName: z
      .union([GraphQLName, z.array(GraphQLName).min(1), z.strictObject({ regex: z.string() })])
      .optional()
      .meta({ description: 'The operation has this name (one of these names, or a name the regex matches).' }),
    rootFields: z
      .array(GraphQLName)
      .min(1)
      .optional()
      .meta({ description: 'Every root field the operation selects is one of these (the route’s service can answer all of it).' }),
  })
  .superRefine((m, ctx) => {
    if (m.operationName !== undefined && typeof m.operationName === 'object' && 'regex' in m.operationName) {
      try {
        new RegExp(m.operationName.regex);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['operationName', 'regex'], message: `not a regular expression: ${(err as Error).message}` });
      }
    }
  })
  .meta({
    description:
      'Route by the GraphQL operation (POST JSON or GET parameters): its type, name and root fields. A request that is not GraphQL matches no such route.',
  });
export type GraphQLMatchConfig = z.output<typeof GraphQLMatch>;
