// Loads the service's .proto files (or a protoc descriptor set) into one protobufjs Root, with the
// bundled google/api and google/rpc protos available to imports and always present for error
// details. Every failure is a message naming the file (and line, for syntax errors), never a throw.
//
// The import walk is ours rather than Root.loadSync's: loadSync reads only from disk and cannot
// say which file imported a missing one nor where it looked. Field names keep their proto spelling
// (keepCase), so path templates, `body` and query parameters name fields as the .proto does;
// ProtoJSON still reads and writes lowerCamel names.
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js'; // installs Root.fromDescriptor
import { BUNDLED_PROTOS } from './bundled-protos.js';

export interface ProtoSources {
  /** .proto files; relative paths are relative to process.cwd(). */
  protos?: string[];
  /** Directories imports are looked up in, before the importing file's own directory. */
  includePaths?: string[];
  /** A FileDescriptorSet file (`protoc --include_imports --descriptor_set_out=...`). */
  descriptorSet?: string;
}

export type LoadResult = { ok: true; root: protobuf.Root } | { ok: false; message: string };

/** The option key the parser uses for `option (google.api.http) = {...}` in Method.parsedOptions. */
export const HTTP_OPTION = '(google.api.http)';

const require = createRequire(import.meta.url);
const PARSE_OPTIONS = { keepCase: true };

/** The largest .proto or descriptor set file read. */
export const MAX_PROTO_FILE_BYTES = 64 * 1024 * 1024;

export function loadProtos(sources: ProtoSources): LoadResult {
  try {
    if (sources.descriptorSet !== undefined) {
      if (sources.protos?.length) return { ok: false, message: 'give either protos or descriptorSet, not both' };
      return loadDescriptorSet(sources.descriptorSet);
    }
    if (!sources.protos?.length) return { ok: false, message: 'no proto files given' };
    const loader = new Loader(sources.includePaths ?? []);
    for (const file of sources.protos) {
      const problem = loader.loadFile(file, resolve(file));
      if (problem) return { ok: false, message: problem };
    }
    return finish(loader);
  } catch (err) {
    // Nothing above should throw; a protobufjs surprise still becomes a config error.
    return { ok: false, message: clean((err as Error).message) };
  }
}

class Loader {
  /** Files already parsed (absolute paths, "bundled:" and "wkt:" names): each is read once. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly includePaths: string[],
    readonly root = new protobuf.Root(),
  ) {}

  /** Reads and parses one file from disk, then its imports. Returns a problem or undefined. */
  loadFile(display: string, abs: string): string | undefined {
    if (this.seen.has(abs)) return undefined;
    this.seen.add(abs);
    const read = readSource(display, abs);
    if (typeof read === 'string') return read;
    return this.parse(display, read.toString('utf8'), dirname(abs));
  }

  /** Loads a bundled google/api or google/rpc proto by import name. */
  loadBundled(name: string): string | undefined {
    const key = 'bundled:' + name;
    if (this.seen.has(key)) return undefined;
    this.seen.add(key);
    return this.parse(name, BUNDLED_PROTOS.get(name)!, undefined);
  }

  private parse(display: string, text: string, dir: string | undefined): string | undefined {
    let parsed: protobuf.IParserResult;
    try {
      // Read by protobufjs for its messages (and kept on the objects it creates, as `filename`).
      (protobuf.parse as unknown as { filename: string | null }).filename = display;
      parsed = protobuf.parse(text, this.root, PARSE_OPTIONS);
    } catch (err) {
      return located(display, (err as Error).message);
    }
    for (const imp of parsed.imports ?? []) {
      const problem = this.loadImport(imp, display, dir, false);
      if (problem) return problem;
    }
    for (const imp of parsed.weakImports ?? []) this.loadImport(imp, display, dir, true);
    return undefined;
  }

  private loadImport(imp: string, from: string, dir: string | undefined, weak: boolean): string | undefined {
    // As protoc: an import names a file under an include path (or the importer's folder), never above it.
    if (imp.split(/[/\\]/).includes('..')) return `${from} imports ${JSON.stringify(imp)}: an import path cannot contain ".." segments`;
    // The well-known types always come from protobufjs, even if an include path vendors them:
    // two copies of google.protobuf.Timestamp would clash.
    if (imp.startsWith('google/protobuf/')) {
      if (addWellKnown(this.root, imp)) return undefined;
      return weak ? undefined : `${from} imports ${oneLine(imp)}, which protobufjs does not provide`;
    }
    const searched: string[] = [];
    for (const dirs of [this.includePaths, dir === undefined ? [] : [dir]])
      for (const d of dirs) {
        const candidate = join(d, imp);
        searched.push(d);
        if (isFile(candidate)) return this.loadFile(candidate, resolve(candidate));
      }
    if (BUNDLED_PROTOS.has(imp)) return this.loadBundled(imp);
    if (weak) return undefined;
    return `${from} imports ${oneLine(imp)}, not found in ${[...searched, 'the bundled google/api and google/rpc protos'].join(', ')}`;
  }
}

/**
 * A config file's bytes, or why not. Only a regular file of at most MAX_PROTO_FILE_BYTES: a FIFO
 * would block this (the config compiling) thread forever, /dev/zero would be read until memory
 * runs out. Opened without blocking, then checked on the open file (no race with a swap).
 */
function readSource(display: string, abs: string): Buffer | string {
  let fd: number | undefined;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile()) return `cannot read ${display}: it is not a regular file`;
    if (st.size > MAX_PROTO_FILE_BYTES) return `cannot read ${display}: it is larger than ${MAX_PROTO_FILE_BYTES} bytes`;
    return readFileSync(fd);
  } catch (err) {
    return `cannot read ${display}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** An import name as an error shows it: on one line (a name with a newline would echo the file's lines). */
function oneLine(imp: string): string {
  const shown = imp.length > 200 ? imp.slice(0, 200) + '…' : imp;
  const quoted = JSON.stringify(shown); // escapes control characters (and quotes, backslashes)
  return quoted.slice(1, -1) === shown ? shown : quoted;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Adds the definitions of google/protobuf/<name>.proto that the root lacks; false if unknown. */
function addWellKnown(root: protobuf.Root, imp: string): boolean {
  const common = protobuf.common as unknown as Record<string, protobuf.INamespace | undefined>;
  let json = common[imp];
  if (json === undefined) {
    // descriptor.proto, type.proto, api.proto, source_context.proto ship as JSON in the package.
    try {
      json = require(`protobufjs/${imp.replace(/\.proto$/, '.json')}`) as protobuf.INamespace;
    } catch {
      return false;
    }
  }
  type Tree = { nested?: Record<string, Tree> };
  const defs = (json as Tree).nested?.google?.nested?.protobuf?.nested ?? {};
  const ns = root.define('google.protobuf');
  // A descriptor set usually carries its own copies of the ones it uses: add only what is missing.
  for (const [name, def] of Object.entries(defs)) if (ns.get(name) === null) ns.addJSON({ [name]: def });
  return true;
}

/** "illegal token '}' (users.proto, line 4)" → "users.proto:4: illegal token '}'". */
function located(file: string, message: string): string {
  const m = /^(.*?) \((?:[^()]*, )?line (\d+)\)$/.exec(message);
  return m ? `${file}:${m[2]}: ${m[1]}` : `${file}: ${clean(message)}`;
}

/** protobufjs spells full names with a leading dot; config messages do not. */
export function clean(message: string): string {
  return message.replace(/(^|[\s'"(])\.(?=[A-Za-z_])/g, '$1');
}

/** Adds the bundled google.rpc protos when the service's protos did not define them, then resolves. */
function finish(loader: Loader): LoadResult {
  if (loader.root.lookup('google.rpc.Status') === null) {
    const p = loader.loadBundled('google/rpc/status.proto');
    if (p) return { ok: false, message: p };
  }
  if (loader.root.lookup('google.rpc.ErrorInfo') === null) {
    const p = loader.loadBundled('google/rpc/error_details.proto');
    if (p) return { ok: false, message: p };
  }
  return resolveAll(loader.root);
}

function resolveAll(root: protobuf.Root): LoadResult {
  try {
    root.resolveAll();
    return { ok: true, root };
  } catch (err) {
    return { ok: false, message: unresolved(root) ?? clean((err as Error).message) };
  }
}

/** Which field or method names a type that does not exist, with its file. */
function unresolved(ns: protobuf.NamespaceBase): string | undefined {
  for (const obj of ns.nestedArray) {
    const members: protobuf.ReflectionObject[] =
      obj instanceof protobuf.Type ? obj.fieldsArray : obj instanceof protobuf.Service ? obj.methodsArray : [];
    for (const m of members) {
      try {
        m.resolve();
      } catch (err) {
        return `${m.filename ?? obj.filename ?? 'proto'}: ${clean(m.fullName)}: ${clean((err as Error).message)}`;
      }
    }
    if (obj instanceof protobuf.Namespace) {
      const inner = unresolved(obj);
      if (inner) return inner;
    }
  }
  return undefined;
}

// --- descriptor sets ---

function loadDescriptorSet(file: string): LoadResult {
  const buf = readSource(file, resolve(file));
  if (typeof buf === 'string') return { ok: false, message: buf };
  let root: protobuf.Root;
  let rules: Map<string, unknown>;
  try {
    root = protobuf.Root.fromDescriptor(buf, { keepCase: true });
    rules = httpRulesOfDescriptorSet(buf);
  } catch (err) {
    return { ok: false, message: `${file}: not a FileDescriptorSet: ${clean((err as Error).message)}` };
  }
  // Root.fromDescriptor decodes method options with descriptor.proto's MethodOptions, which does
  // not know the google.api.http extension: the rules are read separately and put back where the
  // .proto parser puts them, so http-rules.ts sees one shape.
  for (const [name, rule] of rules) {
    const method = root.lookup(name);
    if (method instanceof protobuf.Method) method.parsedOptions = [...(method.parsedOptions ?? []), { [HTTP_OPTION]: rule }];
  }
  // The bundled rpc protos go into the set's root (reusing its well-known types).
  return finish(new Loader([], root));
}

let extendedDescriptors: protobuf.Root | undefined;

/** descriptor.proto plus the google.api.http extension: decodes method options with their rules. */
export function descriptorRootWithHttp(): protobuf.Root {
  if (extendedDescriptors) return extendedDescriptors;
  const r = protobuf.Root.fromJSON(require('protobufjs/google/protobuf/descriptor.json') as protobuf.INamespace);
  protobuf.parse(BUNDLED_PROTOS.get('google/api/http.proto')!, r, PARSE_OPTIONS);
  protobuf.parse(BUNDLED_PROTOS.get('google/api/annotations.proto')!, r, PARSE_OPTIONS);
  r.resolveAll();
  return (extendedDescriptors = r);
}

interface DescriptorObject {
  file?: { package?: string; service?: { name?: string; method?: { name?: string; options?: Record<string, unknown> }[] }[] }[];
}

/** Full method name → its google.api.http rule as a plain object (snake_case keys). */
function httpRulesOfDescriptorSet(buf: Uint8Array): Map<string, unknown> {
  const r = descriptorRootWithHttp();
  const setType = r.lookupType('google.protobuf.FileDescriptorSet');
  const set = setType.toObject(setType.decode(buf), { arrays: false, defaults: false }) as DescriptorObject;
  const out = new Map<string, unknown>();
  for (const f of set.file ?? [])
    for (const s of f.service ?? [])
      for (const m of s.method ?? []) {
        const rule = m.options?.['.google.api.http'];
        if (rule !== undefined) out.set([f.package, s.name, m.name].filter(Boolean).join('.'), rule);
      }
  return out;
}
