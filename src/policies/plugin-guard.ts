// A plugin's policy runs in the gateway's process, so its faults are fenced in: a throw or a
// rejection answers that request 500 GW_POLICY_ERROR (logged with the plugin's type and the
// request id) and an asynchronous phase that never settles is cut off after the definition's
// `timeout`. The built-ins are not wrapped: they return verdicts and are tested to, and a wrapper
// costs a closure call per phase on every request.
import type { Policy, RequestContext, RespondVerdict, Verdict } from './types.js';
import type { Logger } from '../observability/logger.js';

/** Thrown out of a plugin's upstreamRequest/response phase: the request is answered 500 GW_POLICY_ERROR. */
export class PolicyFailure extends Error {
  readonly gatewayCode = 'GW_POLICY_ERROR';
  constructor(readonly policyType: string, cause: unknown) {
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
  if (policy.maxBodyBytes !== undefined) guarded.maxBodyBytes = policy.maxBodyBytes;
  if (policy.answersPreflight === true) guarded.answersPreflight = true;
  const { access, upstreamRequest, response, log: logPhase, close } = policy;
  if (access) {
    guarded.access = (ctx) => {
      let v: Verdict | Promise<Verdict>;
      try {
        v = access.call(policy, ctx);
      } catch (err) {
        return failed(ctx, 'access', err);
      }
      if (v === undefined || typeof (v as Promise<Verdict>).then !== 'function') return v;
      return bounded(v as Promise<Verdict>, timeoutMs, type).catch((err: unknown) => failed(ctx, 'access', err));
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
function bounded<T>(pending: Promise<T>, ms: number, type: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`policy "${type}" did not answer within ${ms} ms`)), ms);
    pending.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (err: unknown) => { clearTimeout(timer); reject(err); },
    );
  });
}
