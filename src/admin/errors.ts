// An admin handler's refusal: thrown, answered by the server with the code's status and message.
import { ERRORS, type ErrorCode } from '../errors.js';

export class AdminError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
  ) {
    super(message ?? ERRORS[code].message);
  }
}
