// gRPC-Web's text mode (`application/grpc-web-text`): the body is base64. A request body is read
// whole and may be several padded base64 pieces one after the other (a client that encodes each
// message on its own); a response is encoded as it streams, three bytes at a time, so that each
// chunk sent is valid base64 on its own and the last one carries the padding.

const ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a text-mode request body; undefined when it is not base64. */
export function decodeText(body: Buffer): Buffer | undefined {
  const text = body.toString('latin1').replace(/[\r\n\t ]/g, '');
  if (text.length % 4 !== 0) return undefined;
  const pieces: Buffer[] = [];
  let start = 0;
  // A piece ends at its padding (or at the end): Node's decoder would stop at the first '='.
  for (let i = 0; i < text.length; i += 4) {
    const quad = text.slice(i, i + 4);
    if (quad.endsWith('=') || i + 4 === text.length) {
      const piece = text.slice(start, i + 4);
      if (!ALPHABET.test(piece)) return undefined;
      pieces.push(Buffer.from(piece, 'base64'));
      start = i + 4;
    }
  }
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/** Encodes a response body as it streams: whole 3-byte groups now, the rest with the next chunk or at the end. */
export class TextEncoder64 {
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer | undefined {
    const all = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = all.length - (all.length % 3);
    this.carry = Buffer.from(all.subarray(whole));
    return whole > 0 ? Buffer.from(all.subarray(0, whole).toString('base64'), 'latin1') : undefined;
  }

  /** What is left, padded. */
  end(): Buffer | undefined {
    if (this.carry.length === 0) return undefined;
    const out = Buffer.from(this.carry.toString('base64'), 'latin1');
    this.carry = Buffer.alloc(0);
    return out;
  }
}
