// Cancellation for route kinds' requests. AbortController would do, but it costs an EventTarget
// per request and a DOMException per abort: measured at ~8 % of a composite request's CPU
// (bench/compose.sh, --cpu-prof). This is a list of callbacks.

export interface CancelSignal {
  readonly cancelled: boolean;
  /** Calls `fn` once, when cancelled (never when it already is: check `cancelled` first); returns its removal. */
  onCancel(fn: () => void): () => void;
}

export class Canceller implements CancelSignal {
  cancelled = false;
  private fns: (() => void)[] | undefined;

  onCancel(fn: () => void): () => void {
    if (this.cancelled) return noop;
    (this.fns ??= []).push(fn);
    return () => {
      const fns = this.fns;
      if (fns === undefined) return;
      const i = fns.indexOf(fn);
      if (i >= 0) fns.splice(i, 1);
    };
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const fns = this.fns;
    this.fns = undefined;
    if (fns !== undefined) for (const fn of fns) fn();
  }
}

function noop(): void {}
