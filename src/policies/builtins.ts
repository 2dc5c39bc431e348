// The built-in policy types, in one list. The config schema builds its `policies` union from it
// (plus the plugins a config loads: index.ts).
import type { PolicyDefinition } from './types.js';
import { headersPolicy } from './headers/headers.js';
import { requestTerminationPolicy } from './request-termination/request-termination.js';
import { corsPolicy } from './cors/cors.js';
import { ipRestrictionPolicy } from './ip-restriction/ip-restriction.js';
import { requestSizeLimitPolicy } from './request-size-limit/request-size-limit.js';
import { botDetectionPolicy } from './bot-detection/bot-detection.js';
import { keyAuthPolicy } from './key-auth/key-auth.js';
import { basicAuthPolicy } from './basic-auth/basic-auth.js';
import { jwtPolicy } from './jwt/jwt.js';
import { introspectionPolicy } from './oauth2-introspection/oauth2-introspection.js';
import { mtlsPolicy } from './mtls/mtls.js';
import { aclPolicy } from './acl/acl.js';
import { authCombinationPolicy } from './auth/auth.js';
import { rateLimitPolicy } from './rate-limit/rate-limit.js';
import { concurrencyLimitPolicy } from './concurrency-limit/concurrency-limit.js';
import { requestValidatorPolicy } from './request-validator/request-validator.js';
import { xmlJsonPolicy } from './xml-json/xml-json.js';
import { requestTransformerPolicy } from './request-transformer/request-transformer.js';
import { responseTransformerPolicy } from './response-transformer/response-transformer.js';
import { cachePolicy } from './cache/cache.js';
import { graphqlPolicy } from './graphql/graphql.js';
import { grpcWebPolicy } from './grpc-web/grpc-web.js';
import { grpcTranscodePolicy } from './grpc-transcode/grpc-transcode.js';

export const BUILTIN_POLICIES: readonly PolicyDefinition[] = [
  headersPolicy,
  requestTerminationPolicy,
  corsPolicy,
  ipRestrictionPolicy,
  requestSizeLimitPolicy,
  botDetectionPolicy,
  // Identity: authentication, then authorisation.
  keyAuthPolicy,
  basicAuthPolicy,
  jwtPolicy,
  introspectionPolicy,
  mtlsPolicy,
  authCombinationPolicy,
  aclPolicy,
  graphqlPolicy,
  rateLimitPolicy,
  concurrencyLimitPolicy,
  requestValidatorPolicy,
  requestTransformerPolicy,
  responseTransformerPolicy,
  xmlJsonPolicy,
  cachePolicy,
  grpcWebPolicy,
  grpcTranscodePolicy,
];
