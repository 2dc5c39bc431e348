// The package's public entry (`import { startGateway } from 'gatehouse'`): run a gateway in a
// Node process, and load or validate a config the way `gatehouse validate` does. Everything else
// under dist/ is internal and may change between versions. The typed plugin API is added here by
// the extension-point work (issue 16).
export { startGateway, ConfigLoadError, type Gateway, type GatewayOptions } from './gateway.js';
export { loadConfigFile, configFromText, configFromDocument } from './config/load.js';
export { validateConfig, type ConfigIssue, type ValidationResult } from './config/validate.js';
export type { GatehouseConfig, GatehouseConfigInput, ServiceConfig, RouteConfig, PolicyConfig } from './config/schema.js';
export { ERRORS, type ErrorCode } from './errors.js';
export type { BoundListener } from './dataplane/dataplane.js';
export { createLogger, silentLogger, type Logger } from './observability/logger.js';
export { VERSION } from './version.js';
