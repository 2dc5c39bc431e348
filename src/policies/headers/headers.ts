// `type: headers` — set or remove request headers before they go upstream, and response headers
// before they reach the client. Names are matched case-insensitively.
import { z } from 'zod';
import { definePolicy, type HeaderList } from '../types.js';
import { removeHeader, setHeader } from '../../dataplane/header-list.js';
import { HeaderName, HeaderValue } from '../header-fields.js';

const Edit = z
  .strictObject({
    set: z.record(HeaderName, HeaderValue).default({}),
    remove: z.array(z.string()).default([]),
  })
  .default({ set: {}, remove: [] });

const schema = z.strictObject({
  type: z.literal('headers'),
  request: Edit,
  response: Edit,
});

type EditConfig = z.output<typeof Edit>;

function compileEdit(edit: EditConfig): ((headers: HeaderList) => void) | undefined {
  const remove = edit.remove.map((n) => n.toLowerCase());
  const set = Object.entries(edit.set).map(([k, v]) => [k.toLowerCase(), v] as const);
  if (remove.length === 0 && set.length === 0) return undefined;
  return (headers) => {
    for (const name of remove) removeHeader(headers, name);
    for (const [name, value] of set) setHeader(headers, name, value);
  };
}

export const headersPolicy = definePolicy({
  type: 'headers',
  description: 'Set or remove request and response headers.',
  schema,
  phases: ['upstreamRequest', 'response'],
  order: 'transform',
  example: { response: { set: { 'x-served-by': 'gatehouse' } } },
  create(config) {
    const onRequest = compileEdit(config.request);
    const onResponse = compileEdit(config.response);
    return {
      upstreamRequest: onRequest && ((_ctx, headers) => onRequest(headers)),
      response: onResponse && ((_ctx, res) => onResponse(res.headers)),
    };
  },
});
