// Request fields about one connection and its framing: a route kind's requests never carry the
// client's or a template's (the gateway frames each request itself, and a second copy is how a
// request is smuggled).
export const CONNECTION_FIELDS: readonly string[] = [
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'http2-settings',
];
