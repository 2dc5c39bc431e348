// The tap that stores a response as it streams to the first client (never held up for it): the
// chunks are kept up to maxObjectSize — past it the tap gives up and the response streams on,
// unstored — and the entry is written when the body ends.
import type { BodyTap, HeaderList } from '../types.js';
import type { CacheEntry } from '../../store/cache/types.js';

export class StoreTap implements BodyTap {
  private chunks: Buffer[] = [];
  private size = 0;
  private over = false;

  constructor(
    private readonly maxBytes: number,
    /** The entry without its body and trailers, made at head time. */
    private readonly head: Omit<CacheEntry, 'response'> & { response: { status: number; headers: string[] } },
    private readonly done: (entry: CacheEntry | undefined) => void,
  ) {}

  data(chunk: Buffer): void {
    if (this.over) return;
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      this.over = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(chunk);
  }

  end(trailers: HeaderList | undefined): void {
    if (this.over) return this.done(undefined);
    // Copied: a chunk may be a view of a larger buffer that storing it would keep alive.
    const body = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    const { status, headers } = this.head.response;
    this.done({ ...this.head, response: { status, headers, body, trailers } });
  }

  abort(): void {
    this.chunks = [];
    this.done(undefined);
  }
}
