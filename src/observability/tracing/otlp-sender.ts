// Sends OTLP export requests from a worker thread. The exporter's few requests a second went
// through the same undici code as every proxied request; V8 then saw two kinds of callers (their
// option and handler objects) in that code and compiled the proxy path with slower, generic
// property loads. A worker has its own V8 heap and its own compiled code, so the proxy path stays
// as if the exporter were not there, and the export's own work (HTTP, the socket) leaves the
// request thread. The worker uses node:http (otlp-sender-worker.ts): it stays ~13 MB.
//
// The worker starts at the first export (a gateway that never samples never starts one). It
// keeps the process alive only while an export waits for its answer (so the last flush on
// shutdown is delivered), never when idle. Should it die, the exports it held count as failed
// and the next one starts a new worker.
import { Worker } from 'node:worker_threads';

/** Where a worker sends, fixed for its life (its workerData). */
export interface SenderTarget {
  endpoint: string;
  contentType: string;
}
/** One export: the worker POSTs `body` and answers whether the collector took it (2xx). */
export interface SendRequest {
  id: number;
  body: string | Uint8Array;
}
export interface SendResult {
  id: number;
  ok: boolean;
}

const WORKER_URL = new URL('./otlp-sender-worker.js', import.meta.url);

/** A worker and the exports it holds (each worker's own: a dying one fails only its exports). */
interface Thread {
  worker: Worker;
  waiting: Map<number, (ok: boolean) => void>;
}

export class OtlpSender {
  private thread: Thread | undefined;
  private nextId = 1;

  private readonly target: SenderTarget;

  constructor(endpoint: string, contentType: string) {
    this.target = { endpoint, contentType };
  }

  /** POSTs one body; resolves true when the collector answered 2xx, false otherwise (never rejects). */
  send(body: string | Uint8Array): Promise<boolean> {
    const t = this.thread ?? this.start();
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      t.waiting.set(id, resolve);
      if (t.waiting.size === 1) t.worker.ref();
      const msg: SendRequest = { id, body };
      // A Buffer's memory may be shared with other Buffers (Node's pool): it is copied, not moved.
      t.worker.postMessage(msg);
    });
  }

  /** Stops the worker (exports still waiting count as failed). */
  async close(): Promise<void> {
    const t = this.thread;
    if (t === undefined) return;
    this.thread = undefined;
    settle(t);
    await t.worker.terminate();
  }

  private start(): Thread {
    const worker = new Worker(WORKER_URL, { workerData: this.target });
    const t: Thread = { worker, waiting: new Map() };
    worker.on('message', (r: SendResult) => {
      const resolve = t.waiting.get(r.id);
      if (resolve === undefined) return;
      t.waiting.delete(r.id);
      if (t.waiting.size === 0) worker.unref();
      resolve(r.ok);
    });
    // A worker that fails or exits takes its own waiting exports with it; the next send starts another.
    const gone = (): void => {
      if (this.thread === t) this.thread = undefined;
      settle(t);
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    worker.unref(); // idle until its first export
    this.thread = t;
    return t;
  }
}

/** Fails every export a worker holds. */
function settle(t: Thread): void {
  const waiting = [...t.waiting.values()];
  t.waiting.clear();
  for (const resolve of waiting) resolve(false);
}
