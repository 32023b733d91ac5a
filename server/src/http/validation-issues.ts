// A request the route schemas refuse, as the issues of its 422: each bad field's path, its code
// (shared/issues.ts), the bound it broke where it has one, and the schema's message. A field that was not sent at all is `required`,
// whatever the check that caught it.
import type { FastifyRequest, FastifySchemaValidationError } from 'fastify';
import type { Issue } from '../shared/errors.ts';
import { issueBound, issueCode } from '../shared/issues.ts';

/** The value at a dotted path of what was sent, or undefined. */
function valueAt(sent: unknown, path: string[]): unknown {
  let at = sent;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** `context`: the part of the request that was validated (Fastify's validationContext). */
export function validationIssues(errors: readonly FastifySchemaValidationError[], context: string | undefined, req: FastifyRequest): Issue[] {
  const sent = context === 'querystring' ? req.query : context === 'params' ? req.params : context === 'headers' ? req.headers : req.body;
  return errors.flatMap((v): Issue[] => {
    const segments = v.instancePath.split('/').filter(Boolean);
    const path = segments.join('.');
    const params = (v.params ?? {}) as { keys?: unknown; origin?: string; minimum?: number | bigint; maximum?: number | bigint; params?: { code?: unknown } };
    if (v.keyword === 'unrecognized_keys' && Array.isArray(params.keys)) {
      return params.keys.map((k) => ({ path: [path, String(k)].filter(Boolean).join('.'), code: 'unknown_field' as const, message: 'is not a field this endpoint accepts' }));
    }
    const like = { code: v.keyword, origin: params.origin, minimum: params.minimum, maximum: params.maximum, params: params.params };
    const code = issueCode(like, valueAt(sent, segments) === undefined);
    const bound = code === 'too_long' || code === 'too_short' || code === 'out_of_range' ? issueBound(like) : {};
    return [{ path, code, ...bound, message: v.message ?? 'is not valid' }];
  });
}
