// Parsing a GraphQL document once per distinct text: a bounded LRU from (token limit, text) to the
// parsed document or its syntax error. The same text yields the same DocumentNode object, so what
// is derived from a document (validation, analysis) can be cached against it in a WeakMap.
import { GraphQLError, parse, type DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

export type ParseResult = { ok: true; document: DocumentNode } | { ok: false; tooManyTokens: boolean; message: string };

export interface ParseCacheOptions {
  /** Most documents kept. */
  maxEntries: number;
  /** Most characters of document text kept, in all. */
  maxChars: number;
}

export class ParseCache {
  private readonly lru: LRUCache<string, ParseResult>;
  hits = 0;
  misses = 0;

  constructor(opts: ParseCacheOptions) {
    this.lru = new LRUCache<string, ParseResult>({
      max: opts.maxEntries,
      maxSize: opts.maxChars,
      // A document much larger than the whole cache is parsed each time rather than evicting everything.
      sizeCalculation: (_v, key) => Math.max(1, key.length),
    });
  }

  /** Parses `source` with at most `maxTokens` tokens (the limit is part of the key: a smaller one re-counts). */
  parse(source: string, maxTokens: number): ParseResult {
    const key = `${maxTokens}\u0000${source}`;
    const cached = this.lru.get(key);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const result = parseNow(source, maxTokens);
    this.lru.set(key, result);
    return result;
  }

  get size(): number {
    return this.lru.size;
  }
}

function parseNow(source: string, maxTokens: number): ParseResult {
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
