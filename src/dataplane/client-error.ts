// What a listener answers when node's HTTP/1.1 parser refuses a request (the server's
// 'clientError'): the gateway's JSON error, then the connection closes; never anything inside a
// response already under way.
import http, { type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { errorBody, type ErrorCode } from '../errors.js';

const CLIENT_ERRORS: Record<string, [number, ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'GW_BAD_REQUEST', 'Request header fields too large.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'GW_BAD_REQUEST', 'Request timeout.'],
};

/** Node's parser refused the request: answer in our format, then close. Never parse further. */
export function onClientError(err: NodeJS.ErrnoException, socket: Socket, serverHeader: string | undefined): void {
  // A TLS handshake that failed or timed out (https.Server passes its tlsClientError here): no
  // HTTP answer can be encrypted on it, and one written would wait — with the socket — forever.
  // (`alpnProtocol` is null until a handshake has completed, node's documentation says.)
  const tls = socket as Partial<TLSSocket>;
  if (err.code === 'ECONNRESET' || !socket.writable || (tls.encrypted === true && tls.alpnProtocol === null)) {
    socket.destroy();
    return;
  }
  // Node has no public API for "the response in flight on this socket" in clientError; its own
  // server reads socket._httpMessage for exactly this (lib/_http_server.js, socketOnError), so do
  // we. The hostile-http tests of pipelined bad requests fail if it ever goes away.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (inFlight && (inFlight.headersSent || inFlight.req.complete)) {
    // A response is under way: raw bytes now would land inside its body, or read as the answer
    // to an earlier, valid request. Flush what is queued and close without answering. (A bad
    // body of the request being answered, before its headers went out, is answered below.)
    socket.destroySoon();
    return;
  }
  const [status, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'GW_BAD_REQUEST', 'The request is malformed.'];
  const body = errorBody(code, undefined, message);
  const reason = http.STATUS_CODES[status] ?? 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${serverHeader !== undefined ? `server: ${serverHeader}\r\n` : ''}connection: close\r\n\r\n${body}`,
  );
  socket.destroySoon();
}
