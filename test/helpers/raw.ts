// Raw TCP for requests no well-behaved client would send.
import net from 'node:net';

export interface RawResult {
  /** Everything the server wrote, as latin1. */
  wire: string;
  /** The server ended the connection; false when the timeout had to cut it. */
  closed: boolean;
}

/** Sends `data` as is and collects everything the server answers until it closes (or timeout). */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 3000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      sock.destroy();
    }, timeoutMs);
    sock.on('connect', () => sock.write(data));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ wire: Buffer.concat(chunks).toString('latin1'), closed: !timedOut });
    });
  });
}

/** Sends `data` as is and resolves with everything the server answers until it closes (or timeout). */
export async function rawRequest(port: number, data: string | Buffer, timeoutMs = 3000): Promise<string> {
  return (await rawExchange(port, data, timeoutMs)).wire;
}

/** Status codes of every response in a raw HTTP/1.1 byte stream. */
export function statuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}
