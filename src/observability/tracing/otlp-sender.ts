// Sends OTLP export requests from a worker thread. The exporter's few requests a second went
// through the same undici code as every proxied request; V8 then saw two kinds of callers (their
// option and handler objects) in that code and compiled the proxy path with slower, generic
// property loads. A worker has its own V8 heap and its own compiled code, so the proxy path stays
// as if the exporter were not there, and the export's own work (HTTP, the socket) leaves the
// request thread. The worker uses node:http (otlp-sender-worker.ts): it stays ~13 MB. Measured with bench/paired.sh: exporting from the main thread cost 1–3 % of
// throughput against not sending at all.
//
// The worker starts at the first export (a gateway that never samples never starts one) and is
// unref'd: it never keeps the process alive. Should it die, waiting exports count as failed and
// the next one starts a new worker.
import { Worker } from 'node:worker_threads';

/** One export: the worker POSTs `body` and answers whether the collector took it (2xx). */
export interface SendRequest {
  id: number;
  endpoint: string;
  contentType: string;
  body: string | Uint8Array;
}
export interface SendResult {
  id: number;
  ok: boolean;
}

const WORKER_URL = new URL('./otlp-sender-worker.js', import.meta.url);

export class OtlpSender {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (ok: boolean) => void>();

  constructor(
    private readonly endpoint: string,
    private readonly contentType: string,
  ) {}

  /** POSTs one body; resolves true when the collector answered 2xx, false otherwise (never rejects). */
  send(body: string | Uint8Array): Promise<boolean> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      this.waiting.set(id, resolve);
      const msg: SendRequest = { id, endpoint: this.endpoint, contentType: this.contentType, body };
      // A Buffer's memory may be shared with other Buffers (Node's pool): it is copied, not moved.
      worker.postMessage(msg);
    });
  }

  /** Stops the worker (exports still waiting count as failed). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failWaiting();
    if (w !== undefined) await w.terminate();
  }

  private start(): Worker {
    const w = new Worker(WORKER_URL);
    w.on('message', (r: SendResult) => {
      const resolve = this.waiting.get(r.id);
      if (resolve === undefined) return;
      this.waiting.delete(r.id);
      resolve(r.ok);
    });
    // A worker that fails or exits takes its waiting exports with it; the next send starts another.
    const gone = (): void => {
      if (this.worker === w) this.worker = undefined;
      this.failWaiting();
    };
    w.on('error', gone);
    w.on('exit', gone);
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
    this.worker = w;
    return w;
  }

  private failWaiting(): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const resolve of waiting) resolve(false);
  }
}
