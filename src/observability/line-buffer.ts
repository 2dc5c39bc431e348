// Access-log lines collected as bytes until a batch goes to the file. Each line is copied in once
// (one call, a plain copy: lines are ASCII, json-text.ts); joining a batch of line strings and
// encoding the result cost more, as the whole batch was copied twice more.

export class LineBuffer {
  buf: Buffer;
  pos = 0;

  constructor(readonly size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Appends an ASCII string (a line longer than the rest of the buffer grows it). */
  ascii(s: string): void {
    if (this.pos + s.length > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + s.length));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** Hands the bytes written so far over (they are not touched again) and starts a new buffer. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.size);
    this.pos = 0;
    return out;
  }
}
