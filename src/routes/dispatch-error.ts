// Why a request to this gateway's own routes (RouteCall.dispatch: a batch item) has no response.
// Shared by the data plane's dispatcher, which throws it, and the route kinds, which read it.

export type DispatchFailure =
  /** The response body was larger than the limit (the connection was closed). */
  | 'too-large'
  /** The request that dispatches came through a dispatch itself. */
  | 'nested'
  /** Its signal cancelled it. */
  | 'aborted'
  /** The request could not be sent as given (a malformed method, target or header). */
  | 'invalid'
  /** The dispatcher was closed (the data plane stopped). */
  | 'closed'
  /** The connection broke before a whole response (a bug, or the exchange destroyed it). */
  | 'failed';

export class InternalDispatchError extends Error {
  constructor(
    readonly reason: DispatchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'InternalDispatchError';
  }
}
