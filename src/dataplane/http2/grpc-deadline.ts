// A gRPC call's deadline (`grpc-timeout`, read by grpc-call.ts) as the gateway enforces it: the
// time runs from the call's arrival at the gateway. When it passes, the upstream call is cancelled
// (its stream reset: the service sees its call cancelled) and the client is told:
//
// - nothing sent yet: a trailers-only DEADLINE_EXCEEDED (GW_GRPC_DEADLINE_EXCEEDED), as any refusal;
// - the response already begun (a streaming call): the stream is reset with CANCEL. A message may
//   be cut in the middle, so trailers cannot follow it safely; a client reads a reset at its own
//   deadline as DEADLINE_EXCEEDED.
//
// The service's own timeouts still apply beside it (`timeouts.response` to the response head,
// `timeouts.idle` between chunks): whichever passes first ends the call, so the deadline is
// capped by them. The grpc-timeout header goes to the service unchanged: it keeps its own
// deadline, a little later than the gateway's.
import { constants, type ServerHttp2Stream } from 'node:http2';

export interface DeadlineActions {
  cancelUpstream(): void;
  /** Answers DEADLINE_EXCEEDED (nothing was sent yet). */
  answer(): void;
  /** Records that the response was cut for the deadline (the stream is reset after). */
  reset(): void;
}

export function grpcDeadlinePassed(stream: ServerHttp2Stream, headersSent: boolean, act: DeadlineActions): void {
  act.cancelUpstream();
  if (!headersSent) return act.answer();
  act.reset();
  if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
}
