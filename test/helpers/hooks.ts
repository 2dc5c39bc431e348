// node:test runs a file's after() hooks even when a before() hook failed part-way. What that hook
// had not started yet is still undefined then, whatever the variable's declared type says
// (`let gw: TestGateway;` is only definitely assigned by the time the tests run). Cleanups read
// such variables through maybeUnset(x)?.close(): closing what was started keeps one failure from
// leaving a server open and the test file hanging until its timeout.

/** `value` as an after() hook sees a variable its before() hook assigns: possibly never set. */
export function maybeUnset<T>(value: T): T | undefined {
  return value;
}
