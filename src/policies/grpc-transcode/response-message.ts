// Turns a gRPC response message into the JSON reply body: the whole message in proto3 JSON, or
// only the binding's response_body field. protojson (protobufjs 8.8) has no option to emit
// default values nor to keep proto field names, so neither is offered: fields at their default
// are left out and names are lowerCamel, as proto3 JSON prescribes by default.
import protobuf from 'protobufjs';
import protojson from 'protobufjs/ext/protojson.js';
import { clean } from './protos.js';
import type { Binding } from './http-rules.js';

/** The service answered bytes that are not a valid message of the response type: a 502. */
export class ResponseDecodeError extends Error {
  override readonly name = 'ResponseDecodeError';
}

export function messageToJson(binding: Pick<Binding, 'responseType' | 'responseBody'>, bytes: Uint8Array): unknown {
  const type = binding.responseType;
  let json: Record<string, unknown>;
  try {
    json = protojson.toJson(type, type.decode(bytes)) as Record<string, unknown>;
  } catch (err) {
    throw new ResponseDecodeError(`bad ${clean(type.fullName)} from the service: ${clean((err as Error).message)}`);
  }
  if (binding.responseBody === undefined) return json;
  const field = type.fields[binding.responseBody]!;
  const value = json[field.jsonName];
  return value === undefined ? defaultJson(field) : value;
}

/** The JSON of a field left at its default (toJson omits those). */
function defaultJson(f: protobuf.Field): unknown {
  if (f.map) return {};
  if (f.repeated) return [];
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) return null;
  if (t instanceof protobuf.Enum) return t.valuesById[0] ?? 0;
  switch (f.type) {
    case 'string':
    case 'bytes':
      return '';
    case 'bool':
      return false;
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return '0';
    default:
      return 0;
  }
}
