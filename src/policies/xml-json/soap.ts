// SOAP 1.1 and 1.2 envelopes: a JSON request becomes the Body of an Envelope (with the SOAPAction
// header, or the action parameter of 1.2's media type); an answer's Body becomes JSON, and a Fault
// becomes an error — a client fault (1.1 `Client`, 1.2 `Sender`) 400, any other 502, by default —
// with its code, reason and detail.
import { isPlainObject } from './convert.js';

export type SoapVersion = '1.1' | '1.2';

const ENVELOPE_NS: Record<SoapVersion, string> = {
  '1.1': 'http://schemas.xmlsoap.org/soap/envelope/',
  '1.2': 'http://www.w3.org/2003/05/soap-envelope',
};

export function envelope(version: SoapVersion, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${ENVELOPE_NS[version]}"><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

/** The request's Content-Type (and, for 1.1, SOAPAction) headers. */
export function soapHeaders(version: SoapVersion, action: string | undefined): [string, string][] {
  if (version === '1.1')
    return [
      ['content-type', 'text/xml; charset=utf-8'],
      ['soapaction', `"${action ?? ''}"`],
    ];
  return [['content-type', `application/soap+xml; charset=utf-8${action !== undefined ? `; action="${action}"` : ''}`]];
}

/** The child of `obj` whose local name (after any prefix) is `name`. */
export function child(obj: unknown, name: string): unknown {
  if (!isPlainObject(obj)) return undefined;
  for (const [k, v] of Object.entries(obj)) if (k === name || k.endsWith(`:${name}`)) return v;
  return undefined;
}

/** Text of a converted element: a string, a number, or its `#text`. */
function text(v: unknown, textKey: string): string | undefined {
  if (Array.isArray(v)) return text(v[0], textKey);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isPlainObject(v) && textKey in v) return text(v[textKey], textKey);
  return undefined;
}

export interface SoapFault {
  /** The sender's fault (the request was wrong) or the receiver's (anything else). */
  client: boolean;
  faultcode: string;
  faultstring: string;
  detail?: unknown;
}

export type SoapAnswer = { ok: true; body: unknown } | { ok: false; fault: SoapFault } | { ok: false; notSoap: string };

/** The converted answer's Body content (the operation's response element), or its Fault. */
export function readEnvelope(doc: unknown, textKey: string): SoapAnswer {
  const env = child(doc, 'Envelope');
  if (env === undefined) return { ok: false, notSoap: 'the answer is not a SOAP envelope' };
  const body = child(env, 'Body');
  if (body === undefined) return { ok: false, notSoap: 'the SOAP envelope has no Body' };
  const fault = child(body, 'Fault');
  if (fault === undefined) return { ok: true, body: isPlainObject(body) ? withoutNamespaceDecls(body) : body };
  // 1.1: faultcode / faultstring / detail; 1.2: Code/Value, Reason/Text, Detail.
  const code = text(child(fault, 'faultcode'), textKey) ?? text(child(child(fault, 'Code'), 'Value'), textKey) ?? '';
  const reason = text(child(fault, 'faultstring'), textKey) ?? text(child(child(fault, 'Reason'), 'Text'), textKey) ?? 'SOAP fault';
  const detail = child(fault, 'detail') ?? child(fault, 'Detail');
  const local = code.replace(/^.*:/, '');
  return {
    ok: false,
    fault: {
      client: local === 'Client' || local === 'Sender',
      faultcode: code,
      faultstring: reason,
      ...(detail !== undefined ? { detail } : {}),
    },
  };
}

function withoutNamespaceDecls(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !/^[^A-Za-z_]?xmlns(:|$)/.test(k)));
}
