// `type: xml-json` — a JSON client in front of an XML (or SOAP) service, or the reverse: request
// bodies converted one way, response bodies the other, `Content-Type` set to match. XML is parsed
// safely (safe-xml.ts: no DTD, no entities beyond XML's own, bounded depth) and both directions
// are configured once per entry (convert.ts). Bodies are read whole only on routes with this
// policy, bounded by `maxBody`.
import { z } from 'zod';
import { Size } from '../config-fields.js';
import { BodyRefusal, definePolicy, type Policy, type RequestContext, type ResponseInfo, type Verdict } from '../types.js';
import { parseSize } from '../../config/units.js';
import { findHeader, removeHeader, setHeader } from '../../dataplane/header-list.js';
import { isJsonType, parseJson } from '../transform/json-text.js';
import { isPlainObject, JsonToXml, XmlToJson, type Converted, type XmlShape } from './convert.js';
import { envelope, readEnvelope, soapHeaders, type SoapVersion } from './soap.js';
import { decodeText } from './safe-xml.js';

const Direction = z.enum(['json-to-xml', 'xml-to-json', 'none']);

const schema = z
  .strictObject({
    type: z.literal('xml-json'),
    request: Direction.default('none').meta({ description: 'How request bodies are converted (by their Content-Type).' }),
    response: Direction.default('none').meta({ description: 'How response bodies are converted (by their Content-Type).' }),
    rootElement: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9._-]*$/, { error: 'not an XML element name' })
      .optional()
      .meta({ description: 'JSON → XML: the root element (default: the JSON’s single top-level key, else "root").' }),
    attributePrefix: z.string().min(1).max(8).default('@').meta({ description: 'The JSON key prefix of XML attributes.' }),
    textKey: z
      .string()
      .min(1)
      .max(16)
      .default('#text')
      .meta({ description: 'The JSON key of an element’s text beside attributes or children.' }),
    arrays: z
      .array(z.string().min(1))
      .default([])
      .meta({ description: 'XML → JSON: elements ("item") or paths ("order.items.item") that are always arrays, even with one element.' }),
    coerce: z
      .boolean()
      .default(false)
      .meta({ description: 'XML → JSON: numbers and booleans in text and attributes become JSON numbers and booleans.' }),
    namespaces: z
      .enum(['keep', 'strip'])
      .default('keep')
      .meta({ description: 'XML → JSON: keep namespace prefixes (and xmlns attributes) or strip them.' }),
    soap: z
      .strictObject({
        version: z.enum(['1.1', '1.2']).default('1.1'),
        action: z
          .string()
          .regex(/^[^"\r\n]*$/, { error: 'an action has no quotes or line breaks' })
          .optional(),
        operation: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9._-]*(:[A-Za-z_][A-Za-z0-9._-]*)?$/, { error: 'not an XML element name' })
          .optional()
          .meta({ description: 'The Body’s element for a JSON request (default: as rootElement).' }),
        namespace: z.string().min(1).optional().meta({ description: 'The operation element’s xmlns.' }),
        clientFaultStatus: z.number().int().min(400).max(599).default(400),
        serverFaultStatus: z.number().int().min(400).max(599).default(502),
      })
      .optional()
      .meta({ description: 'Speak SOAP to the service: JSON requests in an Envelope, answers’ Body as JSON, Faults as errors.' }),
    maxDepth: z.number().int().min(1).max(512).default(64).meta({ description: 'The deepest element nesting accepted either way.' }),
    maxBody: Size.default('1mb').meta({ description: 'The largest body converted (a request over it: 413).' }),
    onTooLarge: z
      .enum(['error', 'pass'])
      .default('error')
      .meta({ description: 'A larger response: 502 GW_UPSTREAM_BODY_TOO_LARGE or sent unchanged.' }),
  })
  // SOAP is spoken to the service: JSON requests wrapped, XML answers unwrapped. The other
  // directions would silently ignore `soap`, so they are refused.
  .refine((c) => c.soap === undefined || (c.request !== 'xml-to-json' && c.response !== 'json-to-xml'), {
    error:
      'soap wraps JSON requests (request: json-to-xml) and unwraps XML answers (response: xml-to-json); it cannot go with xml-to-json requests or json-to-xml responses',
    path: ['soap'],
  });
type Config = z.output<typeof schema>;

/** `application/xml`, `text/xml`, `application/soap+xml` and any `+xml` type. */
function isXmlType(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/xml' || type === 'text/xml' || (type.startsWith('application/') && type.endsWith('+xml'));
}

const JSON_TYPE = 'application/json; charset=utf-8';
const XML_TYPE = 'application/xml; charset=utf-8';
const BYTE_BOUND = ['etag', 'content-md5', 'digest', 'repr-digest', 'content-digest'];
const LOCAL = 'xml-json';

function position(p: { message: string; line?: number; column?: number }): unknown {
  return p.line === undefined ? undefined : { line: p.line, column: p.column };
}

export const xmlJsonPolicy = definePolicy({
  type: 'xml-json',
  description: 'Convert request and response bodies between JSON and XML (SOAP 1.1/1.2 included), with safe XML parsing.',
  schema,
  phases: ['requestBody', 'upstreamRequest', 'responseBody'],
  order: 'transform',
  example: { response: 'xml-to-json' },
  create(config: Config) {
    const shape: XmlShape = {
      attributePrefix: config.attributePrefix,
      textKey: config.textKey,
      arrays: config.arrays,
      coerce: config.coerce,
      namespaces: config.namespaces,
      maxDepth: config.maxDepth,
    };
    const soap = config.soap;
    const version: SoapVersion | undefined = soap?.version;
    const toJson = new XmlToJson(shape);
    const toXml = new JsonToXml(shape, soap?.operation ?? config.rootElement);
    const rootless = new JsonToXml(shape, undefined); // the SOAP Body's element, rooted already
    const maxBytes = parseSize(config.maxBody);
    const prefix = soap?.operation?.includes(':') === true ? soap.operation.slice(0, soap.operation.indexOf(':')) : undefined;
    const xmlnsName = prefix === undefined ? 'xmlns' : `xmlns:${prefix}`;
    const policy: { -readonly [K in keyof Policy]: Policy[K] } = {};

    /** JSON → XML for the service: plain, or the Body of an Envelope. */
    const xmlFor = (value: unknown): Converted<string> => {
      if (soap === undefined) return toXml.convert(value);
      let doc = toXml.rooted(value);
      if (soap.namespace !== undefined) {
        const [name, content] = Object.entries(doc)[0]!;
        // A prefixed operation (`m:GetStock`) declares its prefix; a plain one the default namespace.
        const attrs = { [`${config.attributePrefix}${xmlnsName}`]: soap.namespace };
        const element =
          content === null ? attrs : isPlainObject(content) ? { ...attrs, ...content } : { ...attrs, [config.textKey]: content };
        doc = { [name]: element };
      }
      const inner = rootless.convert(doc, false);
      return inner.ok ? { ok: true, value: envelope(soap.version, inner.value) } : inner;
    };

    if (config.request !== 'none') {
      const toXmlRequest = config.request === 'json-to-xml';
      policy.bodyBufferBytes = maxBytes;
      policy.requestBody = (ctx, b): Verdict => {
        const encoding = ctx.req.headers['content-encoding'];
        if (b.body.length === 0 || (encoding !== undefined && encoding.toLowerCase() !== 'identity')) return undefined;
        if (!(toXmlRequest ? isJsonType(b.contentType) : isXmlType(b.contentType))) return undefined;
        const decoded = decodeText(b.body, b.contentType);
        if (!decoded.ok) return { status: 400, code: 'GW_BAD_BODY', message: `The request body cannot be read: ${decoded.message}.` };
        const text = decoded.text;
        if (toXmlRequest) {
          const parsed = parseJson(text);
          if (!parsed.ok) {
            const { message, position: at, line, column } = parsed.error;
            return {
              status: 400,
              code: 'GW_BAD_BODY',
              message: `The request body is ${message}.`,
              details: { position: at, line, column },
            };
          }
          const xml = xmlFor(parsed.value);
          if (!xml.ok)
            return { status: 400, code: 'GW_BAD_BODY', message: `The request body cannot be sent as XML: ${xml.problem.message}.` };
          b.body = Buffer.from(xml.value);
        } else {
          const json = toJson.convert(text);
          if (!json.ok)
            return {
              status: 400,
              code: 'GW_BAD_BODY',
              message: `The request body is not acceptable XML: ${json.problem.message}.`,
              details: position(json.problem),
            };
          b.body = Buffer.from(JSON.stringify(json.value));
        }
        ctx.locals.set(LOCAL, true);
        return undefined;
      };
    }
    // The service is told what it now gets, and asked for what this route converts back.
    const wantType =
      config.response === 'xml-to-json'
        ? version === '1.2'
          ? 'application/soap+xml'
          : version === '1.1'
            ? 'text/xml'
            : 'application/xml'
        : config.response === 'json-to-xml'
          ? 'application/json'
          : undefined;
    if (config.request !== 'none' || wantType !== undefined)
      policy.upstreamRequest = (ctx, headers) => {
        if (ctx.locals.get(LOCAL) === true) {
          const out: [string, string][] =
            config.request === 'json-to-xml'
              ? version !== undefined
                ? soapHeaders(version, soap?.action)
                : [['content-type', XML_TYPE]]
              : [['content-type', JSON_TYPE]];
          for (const [name, value] of out) setHeader(headers, name, value);
        }
        if (wantType !== undefined) setHeader(headers, 'accept', wantType);
      };

    if (config.response === 'none') return policy;
    const fromXml = config.response === 'xml-to-json';
    const takes = (res: ResponseInfo): boolean => {
      const ct = findHeader(res.headers, 'content-type') ?? '';
      return res.status !== 206 && (fromXml ? isXmlType(ct) : isJsonType(ct));
    };
    // Only a body that was converted loses its validators: one passed on unchanged (empty, or
    // larger than maxBody with onTooLarge: pass) keeps its ETag.
    const converted = (res: ResponseInfo, type: string, text: string): Buffer => {
      for (const name of BYTE_BOUND) removeHeader(res.headers, name);
      setHeader(res.headers, 'content-type', type);
      return Buffer.from(text);
    };
    const convert = (raw: Buffer, res: ResponseInfo): Buffer => {
      if (raw.length === 0) return raw;
      const decoded = decodeText(raw, findHeader(res.headers, 'content-type') ?? '');
      if (!decoded.ok) throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `The upstream response cannot be read: ${decoded.message}.`);
      const text = decoded.text;
      if (!fromXml) {
        const parsed = parseJson(text);
        if (!parsed.ok) {
          const { message, position: at, line, column } = parsed.error;
          throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `The upstream response is ${message}.`, { position: at, line, column });
        }
        const xml = toXml.convert(parsed.value);
        if (!xml.ok)
          throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `The upstream response cannot be written as XML: ${xml.problem.message}.`);
        return converted(res, XML_TYPE, xml.value);
      }
      const json = toJson.convert(text);
      if (!json.ok)
        throw new BodyRefusal(
          'GW_UPSTREAM_BODY_INVALID',
          `The upstream response is not acceptable XML: ${json.problem.message}.`,
          position(json.problem),
        );
      let value = json.value;
      if (soap !== undefined) {
        const answer = readEnvelope(value, config.textKey);
        if (!answer.ok && 'notSoap' in answer)
          throw new BodyRefusal('GW_UPSTREAM_BODY_INVALID', `The upstream response is not SOAP: ${answer.notSoap}.`);
        if (!answer.ok) {
          const f = answer.fault;
          throw new BodyRefusal(
            'GW_SOAP_FAULT',
            f.faultstring,
            { faultcode: f.faultcode, faultstring: f.faultstring, detail: f.detail },
            f.client ? soap.clientFaultStatus : soap.serverFaultStatus,
          );
        }
        value = answer.body;
      }
      return converted(res, JSON_TYPE, JSON.stringify(value));
    };
    policy.responseBody = (_ctx: RequestContext, res) =>
      takes(res) ? { maxBytes, tooLarge: config.onTooLarge, rewrite: convert } : undefined;
    return policy;
  },
});
