// The package's public entry (`import { startGateway } from 'gatehouse'`): run a gateway in a
// Node process, load or validate a config the way `gatehouse validate` does, and write policy
// plugins (docs/plugins.md) with the same `definePolicy` the built-ins use. Everything else under
// dist/ is internal and may change between versions.
export { startGateway, ConfigLoadError, type Gateway, type GatewayOptions } from './gateway.js';
export { configFromText, configFromDocument } from './validation/load.js';
/** Reads a config file, loads its plugins (relative to the file) and validates it. */
export { readConfigFile as loadConfigFile } from './runtime/config-file.js';
export { validateConfig, type ConfigIssue, type ValidationResult } from './validation/validate.js';
export type { GatehouseConfig, GatehouseConfigInput, ServiceConfig, RouteConfig, PolicyConfig } from './config/schema.js';
export { ERRORS, type ErrorCode } from './errors.js';
export type { BoundListener } from './dataplane/dataplane.js';
export { createLogger, silentLogger, type Logger } from './observability/logger.js';
export { VERSION } from './version.js';

// Policy plugins. `z` is the zod the gateway validates with: a plugin's schema built with it
// behaves exactly like a built-in's (one zod instance, one set of error messages).
export { z } from 'zod';
export { definePolicy, section, PHASES, POLICY_ORDER, BodyRefusal } from './policies/types.js';
export type {
  Phase,
  Policy,
  PolicyDefinition,
  PolicyEnv,
  PolicyCheckContext,
  PolicyIssue,
  SectionCheckView,
  RequestContext,
  Identity,
  Verdict,
  RespondVerdict,
  ResponseInfo,
  RequestBody,
  ResponseRewrite,
  HeaderList,
  PolicyOrder,
  Authenticator,
  AuthOutcome,
} from './policies/types.js';
