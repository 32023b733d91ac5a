// CSRF for the public API. The staff routes have their own guard (staff/session.ts). A request
// from a browser says where it comes from (Origin, Sec-Fetch-Site): only our own pages, and the
// origins in TRUSTED_FORM_ORIGINS, may change anything. The SvelteKit server's own calls carry
// the internal secret (internal.ts); servers and scripts send neither header. The RFC 8058
// unsubscribe is posted by mail providers and carries its own token.
import type { FastifyRequest } from 'fastify';
import { forbidden } from '../shared/errors.ts';
import { isInternalCall } from './internal.ts';

/** The onRequest hook of /api that refuses a cross-site change with 403 `csrf`. */
export function csrfGuard(opts: { publicBaseUrl: string; trustedFormOrigins?: readonly string[]; internalSecret: string }) {
  const formOrigins = new Set([new URL(opts.publicBaseUrl).origin, ...(opts.trustedFormOrigins ?? [])]);
  return async (req: FastifyRequest) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    // (the integrator APIs need an API key in the Authorization header, which no cross-site form or
    // un-preflighted fetch can send)
    if (/^\/api\/(staff|admin|unsubscribe|v1|osdi)\//.test(req.url)) return;
    if (isInternalCall(req, opts.internalSecret)) return;
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (typeof origin === 'string' ? formOrigins.has(origin) : site === undefined || site === 'same-origin' || site === 'none') return;
    throw forbidden('csrf', 'Cross-site request refused: post from this site’s own pages');
  };
}
