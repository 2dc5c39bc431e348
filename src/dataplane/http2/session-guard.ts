// What one HTTP/2 session may do, beyond the limits nghttp2 and node enforce on their own (the
// CONTINUATION cap of nghttp2 ≥ 1.61 against CVE-2024-27316's flood, SETTINGS/PING ack floods
// ended as "flooded", maxSessionInvalidFrames, maxSessionRejectedStreams, maxSessionMemory, the
// stream and header limits of our SETTINGS):
//
// - Early resets (CVE-2023-44487, "rapid reset"). Streams a client opens and cancels at once
//   never count against SETTINGS_MAX_CONCURRENT_STREAMS, yet each one is routed and may start an
//   upstream call. nghttp2's own limit (1000 resets, then 33/s) lets over a thousand streams per
//   connection through. Like Envoy's premature-reset check, a session whose client has reset
//   more than `maxEarlyResets` streams before their response, and more than half of all its
//   streams, is closed: GOAWAY ENHANCE_YOUR_CALM, then the connection. A client that cancels
//   now and then (a browser leaving a page, a gRPC deadline) stays far below both marks.
// - Idle: a session without open streams closes (GOAWAY) after keepAliveTimeout, as an idle
//   HTTP/1.1 keep-alive connection does; a session with open streams is never cut for silence
//   (a slow upstream or a quiet event stream is the stream's own timeouts' business).
// - A request budget: after maxRequestsPerSocket streams the session closes gracefully.
// - Liveness: a session with open streams (any session when keepAliveTimeout is 0: idle ones are
//   kept then) that has been silent for keepAliveTimeout (or LIVENESS_MS) is sent a PING; no
//   answer within the same time and it is destroyed, with its streams. This is what ends a session nghttp2 has given up on itself: on a
//   connection error it detects (DATA on a stream the client had ended, for one) it sends GOAWAY
//   and then neither reads nor writes, yet node never closes that session or its streams — their
//   exchanges would stay in flight, holding the socket, for good (even after the client left: a
//   FIN is never read). It also ends sessions whose client vanished without a FIN or RST.
import http2, { type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { ServerLimits } from '../../edge/server-limits.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
/** The liveness check's silence and PING timeout when keepAliveTimeout is 0 (idle sessions then stay open). */
const LIVENESS_MS = 60_000;

export function guardSession(session: ServerHttp2Session, limits: ServerLimits, onFlood: () => void): void {
  const maxEarly = limits.http2.maxEarlyResets;
  const budget = limits.maxRequestsPerSocket;
  let streams = 0;
  let open = 0;
  let early = 0;
  const ended = (stream: ServerHttp2Stream) => {
    open--;
    if (stream.headersSent || stream.rstCode === NGHTTP2_NO_ERROR) return;
    early++;
    if (early > maxEarly && early * 2 > streams && !session.destroyed) {
      onFlood();
      // GOAWAY with the reason, then the connection (destroy sends the GOAWAY itself; without an
      // error node sends NO_ERROR whatever code is given).
      session.destroy(new Error('rapid reset: most streams reset before their response'), NGHTTP2_ENHANCE_YOUR_CALM);
    }
  };
  session.on('stream', (stream: ServerHttp2Stream) => {
    streams++;
    open++;
    if (budget > 0 && streams === budget) session.close(); // GOAWAY: this stream still runs, no new ones
    // A stream whose HEADERS and RST_STREAM came in one read may be closed already.
    if (stream.destroyed) ended(stream);
    else stream.once('close', () => ended(stream));
  });
  const silence = limits.keepAliveTimeout > 0 ? limits.keepAliveTimeout : LIVENESS_MS;
  let probing = false;
  // Node's session timer fires once per silence (any frame read or written re-arms it).
  session.setTimeout(silence, () => {
    if (session.destroyed) return;
    if (open === 0 && limits.keepAliveTimeout > 0) {
      if (!session.closed) session.close();
      return;
    }
    if (probing) return;
    probing = true;
    const dead = setTimeout(() => {
      if (!session.destroyed) session.destroy();
    }, silence);
    dead.unref();
    const answered = (err: Error | null) => {
      probing = false;
      clearTimeout(dead);
      if (err !== null && !session.destroyed) session.destroy();
    };
    try {
      session.ping(answered);
    } catch {
      answered(new Error('PING refused'));
    }
  });
}
