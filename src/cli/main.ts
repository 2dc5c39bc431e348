#!/usr/bin/env node
// The `gatehouse` command. Exit codes: 0 ok · 1 invalid config · 2 usage error ·
// 3 could not start (e.g. a port is taken) · 4 `explain`: no route matches · 70 internal error
// (a bug: the message is printed, never a stack trace).
import { parseArgs } from 'node:util';
import { readConfigFile, pluginsSchemaText } from '../runtime/config-file.js';
import { compilePlan, noConnect, PluginCreateError, type Plan } from '../dataplane/plan.js';
import type { GatehouseConfig } from '../config/schema.js';
import { explain, formatRouteTable, routeTable } from '../dataplane/describe.js';
import { configJsonSchemaText } from '../config/json-schema.js';
import { ConfigSchema } from '../policies/index.js';
import { VERSION } from '../version.js';
import { hashApiKey, hashPassword } from '../identity/secrets.js';

export const EXIT = { ok: 0, invalidConfig: 1, usage: 2, startFailed: 3, noRoute: 4, internal: 70 } as const;

const HELP = `gatehouse ${VERSION} — an API gateway

Usage:
  gatehouse start    [--config FILE]                 run the gateway
  gatehouse validate [--config FILE]                 check a config; print every error as "path: message"
  gatehouse routes   [--config FILE] [--json]        the compiled route table, in match order
  gatehouse explain  [--config FILE] [--json] METHOD URL [-H 'name: value']... [--data BODY]
                                                     which route a request matches, why, and its policies
  gatehouse schema   [--config FILE]                 print the config's JSON Schema (with FILE: including
                                                     the policy types of the plugins it loads)
  gatehouse migrate  [--config BOOT]                 create or upgrade the config store's tables (configStore)
  gatehouse export   [--config BOOT] [-o FILE]       the config store's latest version as YAML
  gatehouse apply    [--config BOOT] -f FILE [--dry-run] [--author NAME] [--comment TEXT]
                                                     FILE as the config store's next version (--dry-run:
                                                     print the diff, write nothing); the same config: no-op
  gatehouse hash-password [PASSWORD]                 scrypt hash for a basic credential's password
  gatehouse hash-key [KEY]                           sha256 digest for an api-key credential's key
                                                     (without the argument: read one line from stdin)
  gatehouse --version | --help

Options:
  -c, --config FILE   config file, YAML or JSON (default ./gatehouse.yaml)
  -H, --header H      a request header for explain, "name: value" (repeatable)
  -d, --data BODY     a request body for explain, tested by match.body (give its -H 'content-type: …')
      --json          machine-readable output
  -f, --file FILE     the config to apply
  -o, --output FILE   where export writes (default stdout)

Exit codes: 0 ok, 1 invalid config, 2 usage error, 3 could not start, 4 explain found no route,
            70 internal error.
`;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c', default: './gatehouse.yaml' },
        header: { type: 'string', short: 'H', multiple: true, default: [] },
        data: { type: 'string', short: 'd' },
        json: { type: 'boolean', default: false },
        file: { type: 'string', short: 'f' },
        output: { type: 'string', short: 'o' },
        'dry-run': { type: 'boolean', default: false },
        author: { type: 'string' },
        comment: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\n\n${HELP}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? EXIT.usage : EXIT.ok;
  }
  try {
    switch (command) {
      case 'start':
        return await start(values.config);
      case 'validate':
        return await validate(values.config);
      case 'routes':
        return await routes(values.config, values.json);
      case 'explain':
        return await explainCmd(values.config, rest, values.header, values.json, values.data);
      case 'schema':
        return await schemaCmd(argv.some((a) => a === '-c' || a.startsWith('--config')) ? values.config : undefined);
      case 'migrate':
        return await (await import('./store-commands.js')).migrateCmd(values.config);
      case 'export':
        return await (await import('./store-commands.js')).exportCmd(values.config, values.output);
      case 'apply': {
        if (!values.file) throw new UsageError('apply needs -f FILE');
        const { applyCmd } = await import('./store-commands.js');
        return await applyCmd(values.config, values.file, { dryRun: values['dry-run'], author: values.author, comment: values.comment });
      }
      case 'hash-password':
        process.stdout.write(`${hashPassword(await secretArg(rest))}\n`);
        return EXIT.ok;
      case 'hash-key':
        process.stdout.write(`${hashApiKey(await secretArg(rest))}\n`);
        return EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`gatehouse: ${err.message}\n\n${HELP}`);
      return EXIT.usage;
    }
    throw err;
  }
}

/** The secret to hash: the argument, or the first line of stdin (keeps it out of shell history). */
async function secretArg(rest: string[]): Promise<string> {
  if (rest.length > 1) throw new UsageError('give one secret, or none to read it from stdin');
  let s = rest[0];
  if (s === undefined) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
    s = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  }
  if (!s) throw new UsageError('the secret is empty');
  return s;
}

async function load(path: string) {
  const result = await readConfigFile(path);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(`${e.path}: ${e.message}\n`);
    process.stderr.write(`${path}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}\n`);
  }
  return result;
}

/** The JSON Schema; with a config file, its plugins' policy types are in it too. */
async function schemaCmd(path: string | undefined): Promise<number> {
  if (path === undefined) {
    process.stdout.write(configJsonSchemaText(ConfigSchema));
    return EXIT.ok;
  }
  const result = await pluginsSchemaText(path);
  if (!result.ok) {
    for (const e of result.errors) process.stderr.write(`${e.path}: ${e.message}\n`);
    return EXIT.invalidConfig;
  }
  process.stdout.write(result.text);
  return EXIT.ok;
}

/** A valid config compiled; a plugin that cannot create its policy is reported like any config error. */
async function loadPlan(path: string): Promise<{ ok: true; config: GatehouseConfig; plan: Plan } | { ok: false }> {
  const result = await load(path);
  if (!result.ok) return result;
  try {
    return { ok: true, config: result.config, plan: compilePlan(result.config, noConnect) };
  } catch (err) {
    if (!(err instanceof PluginCreateError)) throw err;
    process.stderr.write(`${err.path}: ${err.message}\n${path}: 1 error\n`);
    return { ok: false };
  }
}

async function validate(path: string): Promise<number> {
  const result = await loadPlan(path);
  if (!result.ok) return EXIT.invalidConfig;
  process.stdout.write(
    `${path}: ok (${count(result.config.routes.length, 'route')}, ${count(Object.keys(result.config.services).length, 'service')})\n`,
  );
  return EXIT.ok;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

async function routes(path: string, json: boolean): Promise<number> {
  const result = await loadPlan(path);
  if (!result.ok) return EXIT.invalidConfig;
  const rows = routeTable(result.plan);
  process.stdout.write(json ? JSON.stringify(rows, null, 2) + '\n' : formatRouteTable(rows));
  return EXIT.ok;
}

async function explainCmd(path: string, args: string[], rawHeaders: string[], json: boolean, data: string | undefined): Promise<number> {
  if (args.length !== 2) throw new UsageError('explain needs METHOD and URL, e.g. gatehouse explain GET http://api.example.com/v1/users');
  const headers: Record<string, string> = {};
  for (const h of rawHeaders) {
    const i = h.indexOf(':');
    if (i <= 0) throw new UsageError(`header "${h}" is not "name: value"`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const result = await loadPlan(path);
  if (!result.ok) return EXIT.invalidConfig;
  const x = explain(result.plan, args[0]!, args[1]!, headers, data);
  if (json) process.stdout.write(JSON.stringify(x, null, 2) + '\n');
  else {
    const lines = [`${args[0]!.toUpperCase()} ${args[1]} → ${x.status}`, `  ${x.matched ? 'matched' : 'not matched'}: ${x.reason}`];
    if (x.canonicalPath !== undefined) lines.push(`  canonical path: ${x.canonicalPath}`);
    if (x.params && Object.keys(x.params).length)
      lines.push(
        `  params: ${Object.entries(x.params)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')}`,
      );
    if (x.upstream) lines.push(`  upstream: ${x.upstream.target} ${x.upstream.path} (Host: ${x.upstream.host})`);
    if (x.policies) {
      lines.push(`  policies: ${x.policies.length ? '' : 'none'}`);
      for (const p of x.policies) lines.push(`    - ${p.type} (${p.scope}; phases: ${p.phases.join(', ')})`);
    }
    const lost = x.candidates?.filter((c) => c.outcome === 'lost') ?? [];
    if (lost.length) {
      lines.push(`  ${x.matched ? 'other routes whose path matched' : 'routes whose path matched'}:`);
      for (const c of lost) lines.push(`    #${c.order} ${c.route} (${c.host} ${c.path}): ${c.reason}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
  }
  return x.matched ? EXIT.ok : EXIT.noRoute;
}

async function start(path: string): Promise<number> {
  const { startGateway, ConfigLoadError } = await import('../gateway.js');
  try {
    const gw = await startGateway({ configPath: path, signals: true, guardProcess: true });
    const urls = gw.listeners.map((l) => l.url);
    process.stderr.write(
      `gatehouse ${VERSION}: serving on ${urls.join(', ')}${gw.admin ? `; admin on http://${gw.admin.host}:${gw.admin.port}` : ''}\n`,
    );
    return -1; // keep running
  } catch (err) {
    if (err instanceof ConfigLoadError) {
      for (const e of err.errors) process.stderr.write(`${e.path}: ${e.message}\n`);
      return EXIT.invalidConfig;
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`gatehouse: could not start: ${e.code === 'EADDRINUSE' ? `address in use (${e.message})` : e.message}\n`);
    return EXIT.startFailed;
  }
}

/**
 * Exits once everything written has left the process. process.exit() right after a write would
 * drop what a pipe has not taken yet (a pipe holds 64 KiB; `gatehouse schema | wc -c` once counted
 * exactly that): an empty write's callback runs after every earlier write has been handed to the OS.
 */
function exitAfterOutput(code: number): void {
  let waiting = 2;
  const done = () => {
    if (--waiting === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || !stream.writable) done();
    else stream.write('', done);
  }
}

// A reader that goes away (`gatehouse routes | head`) is not an error of ours: stop quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? EXIT.ok : EXIT.internal));

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exitAfterOutput(code);
  },
  (err: unknown) => {
    process.stderr.write(`gatehouse: ${err instanceof Error ? err.message : String(err)}\n`);
    exitAfterOutput(EXIT.internal);
  },
);
