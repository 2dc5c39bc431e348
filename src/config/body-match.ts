// `match.body`: route conditions on the request body (payload routing). A key that starts with "$"
// is a JSON path into a JSON body — `$.type`, `$.order.items[0].sku`, `$['odd key']` — and any
// other key names a field of an `application/x-www-form-urlencoded` body. A condition is a value
// (equal as JSON: "1" is not 1), `{ regex }` (on a string value), `{ present }`, or `{ oneOf }`.
import { z } from 'zod';

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const BodyCondition = z.union([
  Scalar.meta({ description: 'Equal to this JSON value (a form field: to this string).' }),
  z.strictObject({ regex: z.string() }),
  z.strictObject({ present: z.boolean() }),
  z.strictObject({ oneOf: z.array(Scalar).min(1) }),
]);
export type BodyConditionConfig = z.output<typeof BodyCondition>;

export type BodyPathStep = string | number;
export type BodyKey = { kind: 'json'; steps: BodyPathStep[] } | { kind: 'form'; name: string };

const NAME = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

/** A body condition's key, or why it is not one. */
export function parseBodyKey(key: string): BodyKey | string {
  if (!key.startsWith('$')) return key.length > 0 ? { kind: 'form', name: key } : 'a form field name is not empty';
  const steps: BodyPathStep[] = [];
  let i = 1;
  while (i < key.length) {
    const rest = key.slice(i);
    if (rest.startsWith('.')) {
      const m = NAME.exec(rest.slice(1));
      if (m === null) return `"${key}": a name must follow "." at ${i}`;
      steps.push(m[0]);
      i += 1 + m[0].length;
      continue;
    }
    const index = /^\[(\d{1,6})\]/.exec(rest);
    if (index !== null) {
      steps.push(Number(index[1]));
      i += index[0].length;
      continue;
    }
    const quoted = /^\['((?:[^'\\]|\\.)*)'\]/.exec(rest);
    if (quoted !== null) {
      steps.push(quoted[1]!.replace(/\\(.)/g, '$1'));
      i += quoted[0].length;
      continue;
    }
    return `"${key}": expected .name, [index] or ['name'] at ${i}`;
  }
  if (steps.length === 0) return `"${key}": a path names a field ("$.type"), not the whole body`;
  if (steps.length > 32) return `"${key}": at most 32 steps`;
  return { kind: 'json', steps };
}

export const BodyMatch = z
  .record(z.string(), BodyCondition)
  .superRefine((spec, ctx) => {
    for (const [key, cond] of Object.entries(spec)) {
      const parsed = parseBodyKey(key);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: [key], message: parsed });
      if (typeof cond === 'object' && cond !== null && 'regex' in cond) {
        try {
          new RegExp(cond.regex);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: [key, 'regex'], message: `not a regular expression: ${(err as Error).message}` });
        }
      }
    }
  })
  .meta({
    description:
      'Conditions on the request body (payload routing): "$.path" keys test a JSON body, other keys a form field; values are equality, { regex }, { present } or { oneOf }. The body is read up to server.maxBodyForMatch and then forwarded unchanged.',
  });
