// The full reshape: a JSONata expression (https://jsonata.org), for what the field operations
// cannot express. Compiled once per config; each evaluation is bounded in time (`timeout`, checked
// by JSONata at every step), in stack depth and in sequence length, and its output in bytes (by
// the caller). JSONata reads only its input and the bindings given here: it cannot reach node,
// the file system or the network.
import jsonata from 'jsonata';

export interface ReshapeLimits {
  /** Milliseconds one evaluation may take. */
  timeout: number;
}

const STACK = 500;
const SEQUENCE = 100_000;

export type Reshape = (input: unknown, bindings: Record<string, unknown>) => Promise<unknown>;

/** Why an expression does not compile (message and position), or undefined. */
export function reshapeIssue(expr: string): string | undefined {
  try {
    jsonata(expr);
    return undefined;
  } catch (err) {
    const e = err as { message?: string; position?: number };
    return `not a JSONata expression: ${e.message ?? 'syntax error'}${e.position !== undefined ? ` (at ${e.position})` : ''}`;
  }
}

/** The expression compiled (the config was validated: it compiles). */
export function compileReshape(expr: string, limits: ReshapeLimits): Reshape {
  const compiled = jsonata(expr, { timeout: limits.timeout, stack: STACK, sequence: SEQUENCE });
  return (input, bindings) => compiled.evaluate(input, bindings) as Promise<unknown>;
}

/**
 * A JSONata failure as one line (its code and message; never a stack). `withMessage: false` leaves
 * the message out: JSONata puts the value it failed on into some (D3030 "Unable to cast value to a
 * number: <value>", $error's text), which may be data the answer was meant to hide.
 */
export function reshapeFailure(err: unknown, withMessage = true): string {
  const e = err as { code?: unknown; message?: unknown };
  if (e.code === 'D1012') return 'the reshape expression ran out of time';
  if (e.code === 'D1011' || e.code === 'D2015') return 'the reshape expression went past its depth or size bound';
  if (err instanceof RangeError) return 'the reshape expression went past its depth or size bound';
  const message = withMessage && typeof e.message === 'string' ? `: ${e.message}` : '';
  return `the reshape expression failed${typeof e.code === 'string' ? ` (${e.code})` : ''}${message}`;
}
