// Small data hooks: load once (or again on demand), or poll on an interval. A page that goes away
// aborts its request; an answer that arrives for an older request is dropped.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], intervalMs = 0): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      // A hidden tab does not poll (a console left open in the background costs the gateway nothing).
      if (intervalMs > 0 && document.hidden) {
        timer = setTimeout(() => void run(), intervalMs);
        return;
      }
      setLoading(true);
      try {
        const v = await loadRef.current(ctl.signal);
        if (ctl.signal.aborted) return;
        setData(v);
        setError(undefined);
      } catch (err) {
        if (ctl.signal.aborted) return;
        setError(messageOf(err));
      } finally {
        if (!ctl.signal.aborted) {
          setLoading(false);
          // Polling waits for the answer before it schedules the next: a slow gateway is not piled on.
          if (intervalMs > 0) timer = setTimeout(() => void run(), intervalMs);
        }
      }
    };
    void run();
    return () => {
      ctl.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  if (err instanceof Error) return err.message;
  return String(err);
}
