import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrameReader, closeFrame, NO_STATUS } from './frames.js';

/** One frame as a client (masked) or a server (unmasked) writes it. */
function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? [0x80 | opcode, len] : len < 65536 ? [0x80 | opcode, 126, len >> 8, len & 255] : [0x80 | opcode, 127];
  const parts = [Buffer.from(head)];
  if (len >= 65536) {
    const ext = Buffer.alloc(8);
    ext.writeUInt32BE(Math.floor(len / 0x1_0000_0000), 0);
    ext.writeUInt32BE(len >>> 0, 4);
    parts.push(ext);
  }
  if (!masked) return Buffer.concat([...parts, payload]);
  parts[0]![1]! |= 0x80;
  const key = randomBytes(4);
  return Buffer.concat([...parts, key, Buffer.from(payload.map((b, i) => b ^ key[i & 3]!))]);
}

const close = (code: number, masked: boolean) => {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return frame(0x8, Buffer.concat([p, Buffer.from('reason')]), masked);
};

test('frame boundaries are found whatever the chunking: every split point of a stream of frames', () => {
  for (const masked of [false, true]) {
    const frames = [
      frame(0x1, Buffer.from('hi'), masked),
      frame(0x2, Buffer.alloc(0), masked),
      frame(0x2, randomBytes(300), masked), // 16-bit length
      frame(0x2, randomBytes(70_000), masked), // 64-bit length
      frame(0x9, Buffer.from('ping'), masked),
      close(4001, masked),
    ];
    const stream = Buffer.concat(frames);
    const ends = frames.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.length], []);
    for (const split of [1, 2, 3, 7, 13, 127, 1000, 65_537]) {
      const r = new FrameReader();
      const seen: number[] = [];
      for (let at = 0; at < stream.length; at += split) {
        const chunk = stream.subarray(at, Math.min(stream.length, at + split));
        // Walk the chunk frame end by frame end, as a pending close frame makes the tunnel do
        // (between frames, one byte on: no frame is shorter than two).
        const between = () => r.atBoundary;
        let from = 0;
        while (from < chunk.length) {
          if (between()) {
            r.read(chunk.subarray(from, from + 1), 0, false);
            from++;
            continue;
          }
          from = r.read(chunk, from, true);
          if (between()) seen.push(at + from);
        }
      }
      assert.deepEqual(seen, ends, `masked=${String(masked)} split=${split}`);
      assert.equal(r.closes, 1);
      assert.equal(r.closeCode, 4001);
      assert.equal(r.atBoundary, true);
    }
  }
});

test('a close frame without a code reports 1005; only the first close code is kept', () => {
  const r = new FrameReader();
  r.read(Buffer.concat([frame(0x8, Buffer.alloc(0), true), close(1000, true)]), 0, false);
  assert.equal(r.closes, 2);
  assert.equal(r.closeCode, NO_STATUS);
});

test('a length beyond 2^53 breaks the reader (the stream is cut, not followed)', () => {
  const r = new FrameReader();
  r.read(Buffer.from([0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 1]), 0, false);
  assert.equal(r.broken, true);
});

test('closeFrame: unmasked to a client, masked to a service; a reader finds its code', () => {
  const toClient = closeFrame(1001, 'going away', false);
  assert.equal(toClient[0], 0x88);
  assert.equal(toClient[1], 2 + 'going away'.length);
  assert.equal(toClient.readUInt16BE(2), 1001);
  const toService = closeFrame(1001, 'going away', true);
  assert.equal(toService[1]! & 0x80, 0x80);
  for (const f of [toClient, toService]) {
    const r = new FrameReader();
    r.read(f, 0, false);
    assert.equal(r.closeCode, 1001);
    assert.equal(r.atBoundary, true);
  }
});
