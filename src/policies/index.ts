// Every policy type Gatehouse knows. The config schema builds its `policies` union from this list.
import type { PolicyDefinition } from './types.js';
import { headersPolicy } from './headers/headers.js';
import { requestTerminationPolicy } from './request-termination/request-termination.js';
import { rateLimitPolicy } from './rate-limit/rate-limit.js';
import { concurrencyLimitPolicy } from './concurrency-limit/concurrency-limit.js';

export const POLICY_DEFINITIONS: readonly PolicyDefinition[] = [
  headersPolicy as unknown as PolicyDefinition,
  requestTerminationPolicy as unknown as PolicyDefinition,
  rateLimitPolicy as unknown as PolicyDefinition,
  concurrencyLimitPolicy as unknown as PolicyDefinition,
];

const byType = new Map(POLICY_DEFINITIONS.map((d) => [d.type, d]));

export function policyDefinition(type: string): PolicyDefinition | undefined {
  return byType.get(type);
}
