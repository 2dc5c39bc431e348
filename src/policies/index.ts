// Every policy type Gatehouse knows. The config schema builds its `policies` union from this list.
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

export const POLICY_DEFINITIONS: readonly PolicyDefinition[] = [
  headersPolicy as unknown as PolicyDefinition,
  requestTerminationPolicy as unknown as PolicyDefinition,
  corsPolicy as unknown as PolicyDefinition,
  ipRestrictionPolicy as unknown as PolicyDefinition,
  requestSizeLimitPolicy as unknown as PolicyDefinition,
  botDetectionPolicy as unknown as PolicyDefinition,
  // Identity: authentication, then authorisation.
  keyAuthPolicy as unknown as PolicyDefinition,
  basicAuthPolicy as unknown as PolicyDefinition,
  jwtPolicy as unknown as PolicyDefinition,
  introspectionPolicy as unknown as PolicyDefinition,
  mtlsPolicy as unknown as PolicyDefinition,
  authCombinationPolicy as unknown as PolicyDefinition,
  aclPolicy as unknown as PolicyDefinition,
  rateLimitPolicy as unknown as PolicyDefinition,
  concurrencyLimitPolicy as unknown as PolicyDefinition,
];

const byType = new Map(POLICY_DEFINITIONS.map((d) => [d.type, d]));

export function policyDefinition(type: string): PolicyDefinition | undefined {
  return byType.get(type);
}
