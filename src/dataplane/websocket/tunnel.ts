// An open WebSocket connection after the handshake: the client's side and the service's socket,
// piped both ways as raw bytes (frames are never decoded; frames.ts follows their boundaries), with
// backpressure, byte counts, the idle timeout and the maximum lifetime. The client's side is its
// socket (HTTP/1.1) or its HTTP/2 stream (RFC 8441): the frames inside are the same, END_STREAM
// is a FIN, and a stream, like a socket, refreshes its timer on every read and write.
//
// The gateway closes a connection itself (idle, lifetime, shutdown) the way an endpoint would: a
// close frame 1001 (Going Away) to each side — unmasked to the client, masked to the service — put
// on the wire at the next frame boundary of that direction; from then on what that side sends is
// dropped until it answers with its own close frame, and its socket is ended. Whatever is still
// open CLOSE_GRACE_MS later is cut.
import type { Duplex } from 'node:stream';
import { FrameReader, GOING_AWAY, closeFrame } from './frames.js';

/** Who ended the connection (the label of gatehouse_websocket_connections_closed_total). */
export type CloseReason = 'client' | 'upstream' | 'idle' | 'lifetime' | 'shutdown' | 'error';

const CLOSE_GRACE_MS = 5000;
const REASON_TEXT: Partial<Record<CloseReason, string>> = {
  idle: 'idle timeout',
  lifetime: 'maximum lifetime reached',
  shutdown: 'gateway shutting down',
};

/** One side of a tunnel: a net/TLS socket or an HTTP/2 stream. */
export type TunnelEnd = Duplex & { setTimeout(ms: number): unknown };

/** Live counters of a route's connections (read by the metrics at scrape time). */
export interface TunnelCounters {
  bytesIn: number;
  bytesOut: number;
}

class Direction {
  readonly reader = new FrameReader();
  /** The gateway's own close frame, waiting for a frame boundary of this direction. */
  pending: Buffer | undefined;
  /** The gateway closed `dst`: what `src` sends is dropped; its next close frame ends `src`. */
  cut = false;
  private closesAtCut = 0;

  constructor(
    readonly src: TunnelEnd,
    readonly dst: TunnelEnd,
  ) {}

  /** Writes the pending close frame (unless `src` already sent one `dst` has seen) and cuts the direction. */
  inject(): void {
    if (this.reader.closes === 0) this.dst.write(this.pending!);
    this.pending = undefined;
    this.cut = true;
    this.closesAtCut = this.reader.closes;
  }

  /** `src` answered the gateway's close. */
  get answered(): boolean {
    return this.cut && this.reader.closes > this.closesAtCut;
  }
}

export class Tunnel {
  /** Bytes read from the client and from the service since the handshake. */
  bytesIn = 0;
  bytesOut = 0;
  reason: CloseReason | undefined;
  /** The code of the first close frame on the wire, either way (the gateway's own included). */
  closeCode: number | undefined;
  /** The gateway began closing (goingAway). */
  private closing = false;
  private readonly up: Direction;
  private readonly down: Direction;
  private lifetimeTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private open = 2;

  constructor(
    readonly client: TunnelEnd,
    readonly upstream: TunnelEnd,
    private readonly counters: TunnelCounters,
    private readonly onEnd: (t: Tunnel) => void,
    /** Cuts the client's side (an HTTP/2 stream is reset with a code of its own); by default destroyed. */
    private readonly cutClient: (t: Tunnel) => void = destroyClient,
  ) {
    this.up = new Direction(client, upstream);
    this.down = new Direction(upstream, client);
  }

  /** Starts piping: `early` is what the client sent after its handshake, before the 101. */
  start(early: Buffer, idleTimeout: number, maxLifetime: number): void {
    const { client, upstream } = this;
    for (const [s, d] of [
      [client, this.up],
      [upstream, this.down],
    ] as const) {
      s.on('data', (chunk: Buffer) => this.onChunk(d, chunk));
      d.dst.on('drain', () => s.resume());
      s.on('end', () => this.ended(s));
      s.on('close', () => this.closed(s));
      s.on('error', () => this.fail());
    }
    if (idleTimeout > 0) {
      // Node refreshes a socket's timer on every read and write: the client's socket sees every
      // byte of both directions (what the service sends is written to it).
      client.setTimeout(idleTimeout);
      client.on('timeout', () => this.goingAway('idle'));
    }
    if (maxLifetime > 0) {
      this.lifetimeTimer = setTimeout(() => this.goingAway('lifetime'), maxLifetime);
      this.lifetimeTimer.unref();
    }
    if (early.length > 0) this.onChunk(this.up, early);
    client.resume();
    upstream.resume();
    // A socket that closed before it was handed over will not say so again.
    for (const s of [client, upstream]) if (s.closed) this.closed(s);
  }

  /** Closes with 1001 to both sides at their next frame boundaries; cut after CLOSE_GRACE_MS. */
  goingAway(reason: CloseReason): void {
    if (this.closing || this.open < 2) return;
    this.closing = true;
    this.reason ??= reason;
    this.closeCode ??= GOING_AWAY;
    const text = REASON_TEXT[reason] ?? '';
    this.down.pending = closeFrame(GOING_AWAY, text, false);
    this.up.pending = closeFrame(GOING_AWAY, text, true);
    for (const d of [this.up, this.down]) if (d.reader.atBoundary) d.inject();
    this.graceTimer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    this.graceTimer.unref();
  }

  /** Cuts both sockets now (drain time is up, or the stream broke). */
  destroy(): void {
    this.cutClient(this);
    this.upstream.destroy();
  }

  private onChunk(d: Direction, chunk: Buffer): void {
    if (d === this.up) {
      this.bytesIn += chunk.length;
      this.counters.bytesIn += chunk.length;
    } else {
      this.bytesOut += chunk.length;
      this.counters.bytesOut += chunk.length;
    }
    if (d.cut) return this.afterCut(d, chunk, 0);
    const r = d.reader;
    if (d.pending === undefined) {
      r.read(chunk, 0, false);
      if (r.broken) return this.fail();
      this.forward(d, chunk);
      if (r.closes > 0 && this.closeCode === undefined) {
        this.closeCode = r.closeCode;
        this.reason ??= d === this.up ? 'client' : 'upstream';
      }
      return;
    }
    // A close frame of ours waits for this direction's next frame boundary.
    const at = r.read(chunk, 0, true);
    if (r.broken) return this.fail();
    if (at > 0) this.forward(d, at === chunk.length ? chunk : chunk.subarray(0, at));
    if (r.atBoundary) {
      d.inject();
      if (at < chunk.length) this.afterCut(d, chunk, at);
    }
  }

  /** After the gateway's close: nothing more is forwarded; the sender's close frame ends its socket. */
  private afterCut(d: Direction, chunk: Buffer, from: number): void {
    d.reader.read(chunk, from, false);
    if (d.answered) d.src.end();
  }

  private forward(d: Direction, chunk: Buffer): void {
    if (!d.dst.write(chunk)) d.src.pause();
  }

  /** One side sent FIN: pass it on. */
  private ended(s: TunnelEnd): void {
    this.reason ??= s === this.client ? 'client' : 'upstream';
    (s === this.client ? this.upstream : this.client).end();
  }

  private closed(s: TunnelEnd): void {
    this.reason ??= s === this.client ? 'client' : 'upstream';
    const other = s === this.client ? this.upstream : this.client;
    if (--this.open > 0) {
      // The other side gets its FIN and a little time to finish; then it is cut.
      other.end();
      this.graceTimer ??= setTimeout(() => (other === this.client ? this.cutClient(this) : other.destroy()), CLOSE_GRACE_MS);
      this.graceTimer.unref();
      return;
    }
    clearTimeout(this.lifetimeTimer);
    clearTimeout(this.graceTimer);
    this.onEnd(this);
  }

  private fail(): void {
    this.reason ??= 'error';
    this.destroy();
  }
}

function destroyClient(t: Tunnel): void {
  t.client.destroy();
}
