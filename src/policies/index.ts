// Every policy type a config can use: the built-ins and the plugins loaded in this process
// (plugins.ts). Lookups by type go through here, so a plugin works wherever a built-in does.
import type { PolicyDefinition } from './types.js';

export type { PolicyDefinition };
import { BUILTIN_POLICIES } from './builtins.js';
import { loadedPlugin, pluginDefinition } from './plugins.js';
import { buildConfigSchema } from '../config/schema.js';
import { provideDefinitionLookup } from './definition-lookup.js';

export { BUILTIN_POLICIES, loadedPlugin };
export { guardPlugin, DEFAULT_PLUGIN_TIMEOUT_MS } from './plugin-guard.js';

const builtins = new Map(BUILTIN_POLICIES.map((d) => [d.type, d]));

/** A built-in's definition, or a loaded plugin's. */
export function policyDefinition(type: string): PolicyDefinition | undefined {
  return builtins.get(type) ?? pluginDefinition(type);
}
// `auth` finds its methods' definitions through this lookup (definition-lookup.ts: no import cycle).
provideDefinitionLookup(policyDefinition);

/** Whether a definition is one of Gatehouse's own (a plugin's policies are guarded: plugin-guard.ts). */
export function isBuiltin(def: PolicyDefinition): boolean {
  return builtins.get(def.type) === def;
}

/** The built-ins and the definitions of the given plugin URLs (those loaded; see plugins.ts). */
export function policyDefinitions(pluginUrls: readonly string[] = []): readonly PolicyDefinition[] {
  if (pluginUrls.length === 0) return BUILTIN_POLICIES;
  return [...BUILTIN_POLICIES, ...pluginUrls.flatMap((u) => loadedPlugin(u) ?? [])];
}

/** The schema of a config that uses built-in policy types only: the TypeScript types, `gatehouse schema`. */
export const ConfigSchema = buildConfigSchema(BUILTIN_POLICIES);
