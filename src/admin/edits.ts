// What the admin endpoints that edit the config (consumers, GraphQL operations) share: their
// answer type, the refusal they throw with a registered code, and the queue that runs their edits
// one at a time — each reads the config the previous one produced — while reads answer at once.
import type { IncomingMessage } from 'node:http';
import { ERRORS, errorBody, type ErrorCode } from '../errors.js';

/** [status, body, extra headers (an ETag)]. */
export type AdminAnswer = [number, unknown, Record<string, string>?];
export type ReadBody = (req: IncomingMessage) => Promise<unknown>;

/** Thrown by a read or an edit to answer with a registered code. */
export class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: unknown,
  ) {
    super(message ?? ERRORS[code].message);
  }
}

function answerRefusal(err: unknown): AdminAnswer {
  if (err instanceof Refusal) return [ERRORS[err.code].status, errorBody(err.code, undefined, err.message, err.details)];
  throw err;
}

export class EditQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** A GET runs `read` at once; any other method runs `edit` after the edits queued before it. */
  answer(method: string, read: () => AdminAnswer, edit: () => Promise<AdminAnswer>): Promise<AdminAnswer> {
    if (method === 'GET') return Promise.resolve().then(read).catch(answerRefusal);
    const run = this.tail.then(edit);
    this.tail = run.catch(() => {});
    return run.catch(answerRefusal);
  }
}
