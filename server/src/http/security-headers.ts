// The security headers of every answer the API gives: app.ts adds them to what Fastify
// answers, and the answers given before routing (fast-reads.ts, load-shedding.ts) carry the
// same. Pages get theirs from SvelteKit (web/src/hooks.server.ts).
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

