// The console's files (dist/ui, built by scripts/build-ui.mjs), served at /ui/ of the admin
// listener. The set of files is read once, when the admin server starts: a request names one of
// them or gets a 404, so no request path ever reaches the file system (no traversal to try).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/src/admin/console → dist/ui. */
const DEFAULT_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

/** Sent with every console answer, files and /ui/session alike. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  txt: 'text/plain; charset=utf-8',
  woff2: 'font/woff2',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

export interface StaticAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

export class ConsoleFiles {
  private readonly files = new Map<string, StaticFile>();

  /** Reads every regular file directly under `dir` (a missing dir: no files, the console answers 404). */
  constructor(dir = DEFAULT_DIR) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (!statSync(path).isFile()) continue;
      const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
      const body = readFileSync(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      this.files.set(name, { body, type: TYPES[ext] ?? 'application/octet-stream', etag });
    }
  }

  get built(): boolean {
    return this.files.has('index.html');
  }

  /**
   * The answer for `/ui/<name>` (`name` '' is index.html), or undefined for no such file. The name
   * is looked up as it is: "a/../b", "%2e%2e" and the like are simply not among the names.
   */
  serve(name: string, method: string, ifNoneMatch: string | undefined): StaticAnswer | undefined {
    const f = this.files.get(name === '' ? 'index.html' : name);
    if (!f) return undefined;
    const headers = { ...CONSOLE_HEADERS, 'content-type': f.type, 'cache-control': 'no-cache', etag: f.etag };
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === f.etag || t.trim() === '*'))
      return { status: 304, headers, body: '' };
    return { status: 200, headers: { ...headers, 'content-length': String(f.body.length) }, body: method === 'HEAD' ? '' : f.body };
  }
}
