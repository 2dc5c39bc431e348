// Parsing a GraphQL document once per distinct text: a bounded LRU from (token limit, text) to the
// parsed document or its syntax error, bounded by the memory its entries take (estimated: a syntax
// tree is some 100 times larger than a token-dense text, so a bound on text alone is no bound).
// The same text yields the same DocumentNode object, so what is derived from a document
// (validation, analysis) can be cached against it in a WeakMap.
// graphql's parser (and its validation, and the analysis) recurse once per level of nesting: a
// document nesting deeper than MAX_NESTING is refused before it is parsed, not left to overflow the
// stack (2000 levels of `{` are 6000 tokens, under any sensible token limit).
import { GraphQLError, parse, type DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** The deepest nesting of { ( [ a document may have (its selections, arguments and values). */
export const MAX_NESTING = 256;
/** The heap a syntax tree's object (node, name, list) takes, about (measured with graphql 16, noLocation). */
const NODE_BYTES = 50;

export type ParseResult = { ok: true; document: DocumentNode } | { ok: false; tooManyTokens: boolean; message: string };

export interface ParseCacheOptions {
  /** Most documents kept. */
  maxEntries: number;
  /** Most bytes kept, in all: the texts (2 bytes a character) and their syntax trees (estimated). */
  maxBytes: number;
}

interface Entry {
  readonly result: ParseResult;
  readonly bytes: number;
}

export class ParseCache {
  private readonly lru: LRUCache<string, Entry>;
  hits = 0;
  misses = 0;

  constructor(opts: ParseCacheOptions) {
    this.lru = new LRUCache<string, Entry>({
      max: opts.maxEntries,
      maxSize: opts.maxBytes,
      // A document much larger than the whole cache is parsed each time rather than evicting everything.
      sizeCalculation: (v) => v.bytes,
    });
  }

  /** Parses `source` with at most `maxTokens` tokens (the limit is part of the key: a smaller one re-counts). */
  parse(source: string, maxTokens: number): ParseResult {
    const key = `${maxTokens}\u0000${source}`;
    const cached = this.lru.get(key);
    if (cached !== undefined) {
      this.hits++;
      return cached.result;
    }
    this.misses++;
    const result = parseNow(source, maxTokens);
    this.lru.set(key, { result, bytes: 2 * key.length + (result.ok ? NODE_BYTES * objectsIn(result.document) : 0) });
    return result;
  }

  get size(): number {
    return this.lru.size;
  }
}

function parseNow(source: string, maxTokens: number): ParseResult {
  if (nestsDeeper(source, MAX_NESTING))
    return { ok: false, tooManyTokens: false, message: `the document nests selections or values deeper than ${MAX_NESTING} levels` };
  try {
    return { ok: true, document: parse(source, { maxLexicalTokens: maxTokens, noLocation: true }) };
  } catch (err) {
    if (!(err instanceof GraphQLError)) throw err;
    const at = err.locations?.[0];
    const where = at ? ` (line ${at.line}, column ${at.column})` : '';
    const tooMany = err.message.includes('Parsing aborted');
    return { ok: false, tooManyTokens: tooMany, message: tooMany ? `the document has more than ${maxTokens} tokens` : err.message + where };
  }
}

/** How many objects (nodes, and their lists) a syntax tree holds: a walk with a stack of its own. */
function objectsIn(doc: DocumentNode): number {
  let n = 0;
  const todo: object[] = [doc];
  for (let o = todo.pop(); o !== undefined; o = todo.pop()) {
    n++;
    for (const v of Object.values(o)) if (v !== null && typeof v === 'object') todo.push(v as object);
  }
  return n;
}

/**
 * The document's brackets nest deeper than `max`: one pass over the text with GraphQL's lexical
 * rules for what is not syntax (strings, block strings, comments). Unbalanced text is the parser's to refuse.
 */
export function nestsDeeper(source: string, max: number): boolean {
  let depth = 0;
  const n = source.length;
  for (let i = 0; i < n; i++) {
    const c = source.charCodeAt(i);
    if (c === 0x7b || c === 0x28 || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x29 || c === 0x5d) depth--;
    else if (c === 0x23) {
      while (i + 1 < n && source.charCodeAt(i + 1) !== 0x0a && source.charCodeAt(i + 1) !== 0x0d) i++; // # comment
    } else if (c === 0x22) {
      if (source.startsWith('""', i + 1)) {
        // """block string""": only \""" escapes its end.
        i += 3;
        while (i < n && !(source.startsWith('"""', i) && source.charCodeAt(i - 1) !== 0x5c)) i++;
        i += 2;
      } else {
        i++;
        while (i < n && source.charCodeAt(i) !== 0x22 && source.charCodeAt(i) !== 0x0a && source.charCodeAt(i) !== 0x0d)
          i += source.charCodeAt(i) === 0x5c ? 2 : 1;
      }
    }
  }
  return false;
}
