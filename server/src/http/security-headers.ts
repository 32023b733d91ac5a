// The security headers of every answer the API gives: the hooks below add them to what Fastify
// answers (app.ts registers them), and the answers given before routing (load-shedding.ts)
// carry the same. Pages get theirs from SvelteKit (web/src/hooks.server.ts).
// JSON answers also never carry markup characters as such (jsonEscapeHook).
import type { FastifyReply, FastifyRequest } from 'fastify';

/** two years, subdomains too: sent only when PUBLIC_BASE_URL is https */
export const HSTS = 'max-age=63072000; includeSubDomains';

export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** `hsts`: the Strict-Transport-Security value when the site is served over https, else null */
export function apiSecurityHeaders(hsts: string | null): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ...(hsts ? { 'strict-transport-security': hsts } : {}),
  };
}

/** The onSend hook that adds the API's security headers (`headers`: apiSecurityHeaders()). */
export function securityHeadersHook(headers: Record<string, string>) {
  return async (_req: FastifyRequest, reply: FastifyReply) => {
    for (const [name, value] of Object.entries(headers)) {
      // a route with a CSP of its own (the API docs page) keeps it
      if (name !== 'content-security-policy' || !reply.hasHeader(name)) reply.header(name, value);
    }
  };
}

const JSON_ESCAPES: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026' };

/**
 * The onSend hook that keeps markup characters out of JSON: `<`, `>` and `&` can only occur
 * inside JSON strings, where \u003c, \u003e and \u0026 mean the same to every JSON parser. So an
 * answer that repeats what a client sent (a field name it got wrong, say) cannot be read as HTML
 * by anything that sniffs or mis-serves it.
 */
export async function jsonEscapeHook(_req: FastifyRequest, reply: FastifyReply, payload: unknown) {
  if (typeof payload !== 'string' || !/^application\/json/.test(String(reply.getHeader('content-type') ?? ''))) return payload;
  return /[<>&]/.test(payload) ? payload.replace(/[<>&]/g, (c) => JSON_ESCAPES[c]!) : payload;
}
