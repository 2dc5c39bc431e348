// The registry's lookup by type, for policies that use other policies' definitions (the `auth`
// combination finds its methods' authenticators here). The registry (index.ts) imports every
// built-in, `auth` included, so `auth` importing it would close an import cycle; instead the
// registry hands its lookup in here when it loads, and this module imports nothing but types.
import type { PolicyDefinition } from './types.js';

type Lookup = (type: string) => PolicyDefinition | undefined;
let lookup: Lookup | undefined;

/** Called once by the registry (index.ts) as it loads. */
export function provideDefinitionLookup(fn: Lookup): void {
  lookup = fn;
}

/** The definition of `type` (a built-in's or a loaded plugin's), as `policyDefinition` in index.ts answers it. */
export function definitionOf(type: string): PolicyDefinition | undefined {
  if (lookup === undefined) throw new Error('the policy registry (policies/index.ts) is not loaded');
  return lookup(type);
}
