// The OTLP sender's worker thread (otlp-sender.ts): POSTs each export it is handed and answers
// whether the collector took it. It has its own undici, apart from the one proxying requests.
import { parentPort } from 'node:worker_threads';
import { request } from 'undici';
import type { SendRequest, SendResult } from './otlp-sender.js';

const port = parentPort!;

async function send(m: SendRequest): Promise<boolean> {
  try {
    const res = await request(m.endpoint, {
      method: 'POST',
      headers: { 'content-type': m.contentType },
      body: m.body,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 300;
  } catch {
    return false;
  }
}

port.on('message', (m: SendRequest) => {
  void send(m).then((ok) => port.postMessage({ id: m.id, ok } satisfies SendResult));
});
