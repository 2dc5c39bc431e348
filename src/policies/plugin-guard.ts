// A plugin's policy runs in the gateway's process, so its faults are fenced in: a throw or a
// rejection answers that request 500 GW_POLICY_ERROR (logged with the plugin's type and the
// request id) and an asynchronous phase that never settles is cut off after the definition's
// `timeout`. The built-ins are not wrapped: they return verdicts and are tested to, and a wrapper
// costs a closure call per phase on every request.
import { validateHeaderName, validateHeaderValue } from 'node:http';
import {
  BodyRefusal,
  type AccessVerdict,
  type BodyTap,
  type ServeVerdict,
  type Policy,
  type RequestBody,
  type RequestContext,
  type RespondVerdict,
  type ResponseRewrite,
  type ResponseTransform,
  type Verdict,
} from './types.js';
import { serveOf } from './plugin-serve.js';
import type { Logger } from '../observability/logger.js';
import { ERRORS } from '../errors.js';

/** Thrown out of a plugin's upstreamRequest/response phase: the request is answered 500 GW_POLICY_ERROR. */
export class PolicyFailure extends Error {
  readonly gatewayCode = 'GW_POLICY_ERROR';
  constructor(
    readonly policyType: string,
    cause: unknown,
  ) {
    super(`policy "${policyType}" failed`, { cause });
  }
}

export const DEFAULT_PLUGIN_TIMEOUT_MS = 10_000;

const FAILED: RespondVerdict = Object.freeze({ status: 500, code: 'GW_POLICY_ERROR' });

export function guardPlugin(type: string, policy: Policy, log: Logger, timeoutMs: number): Policy {
  const failed = (ctx: RequestContext, phase: string, err: unknown): RespondVerdict => {
    log.error({ policy: type, phase, requestId: ctx.requestId, route: ctx.routeName, err }, 'plugin policy failed');
    return FAILED;
  };
  const guarded: { -readonly [K in keyof Policy]: Policy[K] } = {};
  const maxBodyBytes = policy.maxBodyBytes;
  if (maxBodyBytes !== undefined) {
    // The route keeps the smallest of its policies' limits: NaN or a string here would switch
    // off every other limit on the route (a request-size-limit included).
    if (!(Number.isSafeInteger(maxBodyBytes) && maxBodyBytes >= 0))
      throw new Error(`policy "${type}": maxBodyBytes must be a whole number of bytes`);
    guarded.maxBodyBytes = maxBodyBytes;
  }
  if (policy.bodyBufferBytes !== undefined) {
    const n = policy.bodyBufferBytes;
    if (!(Number.isSafeInteger(n) && n >= 0)) throw new Error(`policy "${type}": bodyBufferBytes must be a whole number of bytes`);
    guarded.bodyBufferBytes = n;
  }
  if (policy.answersPreflight === true) guarded.answersPreflight = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- each phase is read once and called with .call(policy, …) below: a plugin's `this` is kept
  const { access, requestBody, readsBody, upstreamRequest, upstreamResponse, response, responseBody, log: logPhase, close } = policy;
  if (readsBody) {
    guarded.readsBody = (ctx) => {
      try {
        const wanted: unknown = readsBody.call(policy, ctx); // a plugin in JavaScript may give anything
        return wanted !== false;
      } catch (err) {
        failed(ctx, 'readsBody', err);
        return true; // its requestBody phase runs, and answers for itself
      }
    };
  }
  if (access) {
    // A verdict is sent as it is, so one that cannot be (status 99, a header with CR/LF, a body
    // that is not a string, an unregistered code…) is the plugin's fault like a throw.
    const answer = (ctx: RequestContext, v: unknown): AccessVerdict => {
      if (v === undefined) return undefined;
      let checked: RespondVerdict | ServeVerdict | string;
      try {
        checked = typeof v === 'object' && v !== null && 'serve' in v ? serveOf(v) : verdictOf(v);
      } catch (err) {
        return failed(ctx, 'access', err);
      }
      return typeof checked === 'string' ? failed(ctx, 'access', new Error(`malformed verdict: ${checked}`)) : checked;
    };
    guarded.access = (ctx) => {
      let v: unknown;
      try {
        v = access.call(policy, ctx);
        if (!thenable(v)) return answer(ctx, v);
      } catch (err) {
        return failed(ctx, 'access', err);
      }
      return bounded(v, timeoutMs, type).then(
        (r) => answer(ctx, r),
        (err: unknown) => failed(ctx, 'access', err),
      );
    };
  }
  if (requestBody) {
    const answer = (ctx: RequestContext, v: unknown, body: RequestBody): Verdict => {
      if (!Buffer.isBuffer(body.body)) return failed(ctx, 'requestBody', new Error('the body it left is not a Buffer'));
      if (v === undefined) return undefined;
      const checked = verdictOf(v);
      return typeof checked === 'string' ? failed(ctx, 'requestBody', new Error(`malformed verdict: ${checked}`)) : checked;
    };
    guarded.requestBody = (ctx, body) => {
      let v: unknown;
      try {
        v = requestBody.call(policy, ctx, body);
        if (!thenable(v)) return answer(ctx, v, body);
      } catch (err) {
        return failed(ctx, 'requestBody', err);
      }
      return bounded(v, timeoutMs, type).then(
        (r) => answer(ctx, r, body),
        (err: unknown) => failed(ctx, 'requestBody', err),
      );
    };
  }
  if (upstreamRequest) {
    guarded.upstreamRequest = (ctx, headers) => {
      try {
        upstreamRequest.call(policy, ctx, headers);
      } catch (err) {
        failed(ctx, 'upstreamRequest', err);
        throw new PolicyFailure(type, err);
      }
    };
  }
  if (upstreamResponse) {
    guarded.upstreamResponse = (ctx, res) => {
      try {
        const action = upstreamResponse.call(policy, ctx, res) as unknown;
        if (action === undefined) return undefined;
        const checked = typeof action === 'object' && action !== null && 'tap' in action ? tapOf(action, type) : serveOf(action);
        if (typeof checked === 'string') throw new Error(`malformed upstreamResponse action: ${checked}`);
        return checked;
      } catch (err) {
        failed(ctx, 'upstreamResponse', err);
        throw new PolicyFailure(type, err);
      }
    };
  }
  if (response) {
    guarded.response = (ctx, res) => {
      try {
        response.call(policy, ctx, res);
      } catch (err) {
        failed(ctx, 'response', err);
        throw new PolicyFailure(type, err);
      }
    };
  }
  if (responseBody) {
    guarded.responseBody = (ctx, res) => {
      let r: ResponseRewrite | ResponseTransform | undefined;
      try {
        r = responseBody.call(policy, ctx, res);
        if (r === undefined) return undefined;
        if (typeof (r as { data?: unknown }).data === 'function')
          return guardTransform(r as ResponseTransform, (err) => {
            if (err instanceof BodyRefusal && Object.hasOwn(ERRORS, err.code) && errorStatus(err.status)) throw err; // the plugin's own answer
            failed(ctx, 'responseBody', err);
            throw new PolicyFailure(type, err);
          });
        // Read once, checked as plain values: a plugin written in JavaScript has no types to hold it.
        const { maxBytes, tooLarge } = r as { maxBytes: unknown; tooLarge: unknown };
        const rewrite = (r as { rewrite: unknown }).rewrite as ResponseRewrite['rewrite'];
        if (!(Number.isSafeInteger(maxBytes) && (maxBytes as number) >= 0)) throw new Error('maxBytes must be a whole number of bytes');
        if (tooLarge !== 'pass' && tooLarge !== 'error') throw new Error("tooLarge must be 'pass' or 'error'");
        if (typeof rewrite !== 'function') throw new Error('rewrite must be a function');
        const self = r;
        return {
          maxBytes: maxBytes as number,
          tooLarge,
          rewrite: async (body, info) => {
            let out: unknown;
            try {
              out = await bounded(Promise.resolve(rewrite.call(self, body, info)), timeoutMs, type);
            } catch (err) {
              if (err instanceof BodyRefusal && Object.hasOwn(ERRORS, err.code) && errorStatus(err.status)) throw err; // the plugin's own answer
              failed(ctx, 'responseBody', err);
              throw new PolicyFailure(type, err);
            }
            if (!Buffer.isBuffer(out)) {
              const err = new Error('rewrite must give a Buffer');
              failed(ctx, 'responseBody', err);
              throw new PolicyFailure(type, err);
            }
            return out;
          },
        };
      } catch (err) {
        failed(ctx, 'responseBody', err);
        throw new PolicyFailure(type, err);
      }
    };
  }
  if (logPhase) {
    guarded.log = (ctx, status) => {
      try {
        logPhase.call(policy, ctx, status);
      } catch (err) {
        // The answer is gone already: a failing log phase is only logged.
        failed(ctx, 'log', err);
      }
    };
  }
  if (close) {
    guarded.close = () => {
      try {
        close.call(policy);
      } catch (err) {
        log.error({ policy: type, err }, 'plugin policy failed to close');
      }
    };
  }
  return guarded;
}

/** `pending`, or a rejection once `ms` pass without it settling. */
function bounded<T>(pending: PromiseLike<T>, ms: number, type: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`policy "${type}" did not answer within ${ms} ms`)), ms);
    try {
      pending.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the plugin's own reason, passed on as it is (it is logged)
          reject(err);
        },
      );
    } catch (err) {
      // A thenable whose then() throws: no timer is left behind.
      clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the plugin's then() threw, passed on as it is
      reject(err);
    }
  });
}

function thenable(v: unknown): v is PromiseLike<unknown> {
  return ((typeof v === 'object' && v !== null) || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * A plugin's verdict copied field by field (a getter or a Proxy is read once, so what is checked is
 * what is sent), or why it cannot be sent. A final answer is 200-599: a 1xx would leave the client
 * waiting for the real one.
 */
function verdictOf(v: unknown): RespondVerdict | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return 'a verdict is undefined or an object { status, code?, message?, headers?, body? }';
  const { status, code, message, headers, body, details } = v as Record<string, unknown>;
  if (!(Number.isInteger(status) && (status as number) >= 200 && (status as number) <= 599))
    return 'status must be a whole number from 200 to 599';
  const out: { -readonly [K in keyof RespondVerdict]: RespondVerdict[K] } = { status: status as number };
  if (code !== undefined) {
    if (typeof code !== 'string' || !Object.hasOwn(ERRORS, code)) return 'code must be a registered error code';
    out.code = code as RespondVerdict['code'];
  }
  if (message !== undefined) {
    if (typeof message !== 'string') return 'message must be a string';
    out.message = message;
  }
  if (details !== undefined) {
    // Copied as JSON now: what is sent is what was checked (no getter or cycle reaches the sender).
    let copy: unknown;
    try {
      copy = JSON.parse(JSON.stringify(details)) as unknown;
    } catch {
      return 'details must be JSON-serialisable';
    }
    out.details = copy;
  }
  if (body !== undefined) {
    if (typeof body !== 'string') return 'body must be a string';
    out.body = body;
  }
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
      return 'headers must be an object of header names to strings';
    const copy: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value !== 'string') return `header ${JSON.stringify(name)} must be a string`;
      try {
        validateHeaderName(name);
        validateHeaderValue(name, value);
      } catch {
        return `header ${JSON.stringify(name)} cannot be sent (a name must be a token; a value has no CR, LF or NUL)`;
      }
      if (name.toLowerCase() === 'transfer-encoding') return 'the gateway frames the body itself: no transfer-encoding header';
      copy[name] = value;
    }
    out.headers = copy;
  }
  return out;
}

/** A BodyRefusal's own status: none, or an error status (4xx, 5xx). */
function errorStatus(status: unknown): boolean {
  return status === undefined || (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599);
}

/** A plugin's tap, its methods read once and each call fenced (a throw is logged by the taps' owner). */
function tapOf(action: object, type: string): { tap: BodyTap } | string {
  const tap = (action as { tap: unknown }).tap;
  if (typeof tap !== 'object' || tap === null) return 'tap must be an object { data, end, abort }';
  const { data, end, abort } = tap as Record<string, unknown>;
  if (typeof data !== 'function' || typeof end !== 'function' || typeof abort !== 'function')
    return 'a tap has the functions data(chunk), end(trailers) and abort()';
  const call = (fn: unknown, ...args: unknown[]) => {
    try {
      (fn as (...a: unknown[]) => unknown).apply(tap, args);
    } catch (err) {
      throw new PolicyFailure(type, err);
    }
  };
  return { tap: { data: (c) => call(data, c), end: (t) => call(end, t), abort: () => call(abort) } };
}

/** A plugin's stream transform: a throw, or output that is not a Buffer, is its fault (`fault` rethrows it as such). */
function guardTransform(t: ResponseTransform, fault: (err: unknown) => never): ResponseTransform {
  const checked = (out: unknown): Buffer | undefined => {
    if (out === undefined || Buffer.isBuffer(out)) return out;
    return fault(new Error('a transform must give a Buffer or undefined'));
  };
  return {
    data(chunk, res) {
      let out: unknown;
      try {
        out = t.data.call(t, chunk, res);
      } catch (err) {
        fault(err);
      }
      return checked(out);
    },
    end(trailers, res) {
      let out: unknown;
      try {
        out = t.end.call(t, trailers, res);
      } catch (err) {
        fault(err);
      }
      return checked(out);
    },
    abort() {
      try {
        t.abort?.call(t);
      } catch {
        // the response is over either way
      }
    },
  };
}
