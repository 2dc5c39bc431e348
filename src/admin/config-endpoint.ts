// GET /config: the running config with defaults filled in and secrets redacted, as JSON or (with
// ?format=yaml, the console's editor) YAML; ?consumers=omit leaves the consumers out.
import type { IncomingMessage } from 'node:http';
import type { Controller } from '../runtime/instance.js';
import { errorBody } from '../errors.js';
import { etagOf } from './etag.js';
import { configView, configYaml } from './console/config-text.js';

type Answer = [number, unknown, string?, Record<string, string>?];

export function configEndpoint(ctl: Controller, req: IncomingMessage): Answer {
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
  const format = query.get('format') ?? 'json';
  const consumers = query.get('consumers') ?? 'include';
  if (format !== 'json' && format !== 'yaml') return [400, errorBody('ADMIN_BAD_QUERY', undefined, 'format must be json or yaml.')];
  if (consumers !== 'include' && consumers !== 'omit')
    return [400, errorBody('ADMIN_BAD_QUERY', undefined, 'consumers must be include or omit.')];
  const view = configView(ctl.config, consumers === 'omit');
  const etag = { etag: etagOf(ctl.config)! };
  if (format === 'yaml') return [200, configYaml(view), 'application/yaml; charset=utf-8', etag];
  return [200, view, undefined, etag];
}
