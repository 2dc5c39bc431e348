// The checks of a WebSocket opening handshake (RFC 6455 §4): the client's request before anything
// runs for it, and the service's 101 before the client sees it.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ErrorAnswer } from '../respond.js';
import type { ScannedHeaders } from '../forwarding.js';
import { hasBody } from '../request-body.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A base64 nonce of 16 bytes (RFC 6455 §4.1). */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** The Upgrade header asks for a WebSocket (one of its protocols is `websocket`). */
export function asksForWebSocket(upgrade: string | undefined): boolean {
  if (upgrade === undefined) return false;
  if (upgrade.length === 9) return upgrade.toLowerCase() === 'websocket';
  return upgrade.split(',').some((p) => p.trim().toLowerCase() === 'websocket');
}

/** What is wrong with the client's handshake, as the answer it gets; undefined when nothing. */
export function handshakeProblem(req: IncomingMessage, scan: ScannedHeaders): ErrorAnswer | undefined {
  if (req.method !== 'GET') return bad('A WebSocket handshake is a GET request.');
  if (req.httpVersion !== '1.1') return bad('A WebSocket handshake needs HTTP/1.1.');
  if (hasBody(scan)) return bad('A WebSocket handshake has no body.');
  const version = versionProblem(req);
  if (version !== undefined) return version;
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !KEY.test(key)) return bad('Sec-WebSocket-Key must be one base64-encoded 16-byte value.');
  return undefined;
}

/**
 * The same for an extended CONNECT over HTTP/2 (RFC 8441 §5; :protocol websocket was checked):
 * there is no Sec-WebSocket-Key, and the stream's DATA is the connection, so a Content-Length is
 * a mistake.
 */
export function http2HandshakeProblem(req: IncomingMessage, scan: ScannedHeaders): ErrorAnswer | undefined {
  if (scan.contentLength !== undefined && scan.contentLength !== '0') return bad('A WebSocket handshake has no body.');
  return versionProblem(req);
}

function versionProblem(req: IncomingMessage): ErrorAnswer | undefined {
  if (req.headers['sec-websocket-version'] === '13') return undefined;
  // RFC 6455 §4.2.2: 426 with the versions the server speaks.
  return {
    kind: 'error',
    code: 'GW_WEBSOCKET_BAD_HANDSHAKE',
    status: 426,
    close: true,
    headers: { 'sec-websocket-version': '13' },
    message: 'Only WebSocket version 13 is supported.',
  };
}

function bad(message: string): ErrorAnswer {
  return { kind: 'error', code: 'GW_WEBSOCKET_BAD_HANDSHAKE', close: true, message };
}

/** The Sec-WebSocket-Accept a server must answer `key` with. */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/**
 * What is wrong with the service's 101 for a handshake that sent `key` and offered `protocols`
 * (Sec-WebSocket-Protocol); undefined when it is a valid WebSocket answer.
 */
export function upstreamHandshakeProblem(raw: Buffer[] | string[], key: string, protocols: string | undefined): string | undefined {
  let upgrade: string | undefined;
  let connection = '';
  let accept: string | undefined;
  let protocol: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'upgrade') upgrade = value;
    else if (name === 'connection') connection += `,${value}`;
    else if (name === 'sec-websocket-accept') accept = accept === undefined ? value : '';
    else if (name === 'sec-websocket-protocol') protocol = protocol === undefined ? value.trim() : '';
  }
  if (!asksForWebSocket(upgrade)) return 'its Upgrade header is not websocket';
  if (!connection.split(',').some((t) => t.trim().toLowerCase() === 'upgrade')) return 'its Connection header does not say upgrade';
  if (accept?.trim() !== acceptFor(key)) return 'its Sec-WebSocket-Accept does not match the key';
  if (protocol !== undefined && !(protocols ?? '').split(',').some((p) => p.trim() === protocol))
    return 'it chose a subprotocol the client did not offer';
  return undefined;
}
