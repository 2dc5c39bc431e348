// How one upstream attempt ended, in the words the config uses (`failOn`, `retries.on`).
export type AttemptFailure = 'connect-error' | 'timeout';

/** The error class of a failed attempt; other errors (bad framing, aborts) are not health signals. */
export function failureKind(err: Error): AttemptFailure | 'protocol' | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      // A connection refused, or reset/closed before the response headers: the target did not serve.
      return 'connect-error';
    case 'UND_ERR_ABORTED':
    case 'GW_PAYLOAD_TOO_LARGE': // the client's body was too large: no fault of the target
      return undefined;
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'protocol';
    default:
      if (code?.startsWith('HPE_') || err.name === 'HTTPParserError' || code?.startsWith('UND_ERR_RES') || code === 'UND_ERR_INFO')
        return 'protocol';
      // Another system error on the socket is the connection failing; anything else (a bug, a
      // policy that threw) says nothing about the target.
      return code !== undefined && /^E[A-Z]+$/.test(code) ? 'connect-error' : undefined;
  }
}

/** Does a status or error count as a failure under `failOn`? */
export function countsAsFailure(
  failOn: ReadonlySet<string>,
  status: number | undefined,
  failure: AttemptFailure | 'protocol' | undefined,
): boolean {
  if (status !== undefined) return status >= 500 && failOn.has('5xx');
  if (failure === 'protocol') return failOn.has('5xx'); // a broken response is a server fault
  return failure !== undefined && failOn.has(failure);
}
