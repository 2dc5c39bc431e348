// `type: grpc-transcode` entries: where the protos are, which services to expose, HTTP rules for
// methods the protos do not annotate, and how strict the JSON mapping is.
import { z } from 'zod';
import { Size } from '../../config/units-schema.js';
import { parseSize } from '../../config/units.js';

const PositiveSize = Size.refine((v) => parseSize(v) > 0, { error: 'must be at least 1 byte' });

const pattern = {
  get: z.string().min(1).optional(),
  put: z.string().min(1).optional(),
  post: z.string().min(1).optional(),
  delete: z.string().min(1).optional(),
  patch: z.string().min(1).optional(),
  custom: z.strictObject({ kind: z.string().min(1), path: z.string().min(1) }).optional(),
  body: z.string().optional().meta({ description: '`*` (the JSON body is the whole request message) or a field of it.' }),
  responseBody: z.string().optional().meta({ description: 'A field of the response message that is the whole JSON answer.' }),
};

const binding = z.strictObject(pattern);

/** One HTTP rule, as `google.api.http` annotations and Google's service config write them. */
export const httpRuleSchema = z.strictObject({
  selector: z.string().min(1).meta({ description: 'The method: `package.Service.Method`.' }),
  ...pattern,
  additionalBindings: z.array(binding).optional(),
});
export type HttpRuleConfig = z.output<typeof httpRuleSchema>;

export const grpcTranscodeSchema = z
  .strictObject({
    type: z.literal('grpc-transcode'),
    protos: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .meta({ description: 'The services’ .proto files (paths relative to the working directory), compiled when the config is.' }),
    descriptorSet: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'A FileDescriptorSet (`protoc --include_imports --descriptor_set_out`), instead of `protos`.' }),
    includePaths: z
      .array(z.string().min(1))
      .default([])
      .meta({ description: 'Where imports are looked for, before each file’s own folder.' }),
    services: z
      .array(z.string().min(1))
      .min(1)
      .meta({ description: 'The gRPC services exposed as JSON, by full name (`acme.users.v1.Users`).' }),
    rules: z
      .array(httpRuleSchema)
      .default([])
      .meta({ description: 'HTTP rules for methods without (or instead of) their `google.api.http` annotation.' }),
    unknownFields: z
      .enum(['reject', 'ignore'])
      .default('reject')
      .meta({ description: 'A JSON field or query parameter the message does not have: 400, or dropped.' }),
    streamFormat: z.enum(['ndjson', 'sse']).default('ndjson').meta({
      description: 'A server-streaming call’s messages: JSON lines, or server-sent events (also chosen by `Accept: text/event-stream`).',
    }),
    emitDefaults: z.boolean().default(false).meta({ description: 'Answers carry fields at their default value (0, "", false, []).' }),
    useProtoNames: z
      .boolean()
      .default(false)
      .meta({ description: 'Answers name fields as the proto does (`user_id`), not lowerCamel (`userId`).' }),
    maxRequestBody: PositiveSize.default('1mb').meta({ description: 'The largest JSON request body read (413 past it).' }),
    maxMessage: PositiveSize.default('4mb').meta({ description: 'The largest response message turned into JSON (502 past it).' }),
  })
  .refine((c) => (c.protos === undefined) !== (c.descriptorSet === undefined), {
    error: 'give exactly one of `protos` and `descriptorSet`',
  });
export type GrpcTranscodeConfig = z.output<typeof grpcTranscodeSchema>;
