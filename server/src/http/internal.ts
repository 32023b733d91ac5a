// Who a request is from. The SvelteKit server in this process calls the API over HTTP with a
// per-process secret (x-chorus-internal, AppDeps.internalSecret): such a call passes the CSRF
// check (csrf.ts) and may say which client it is made for (x-chorus-client-ip). Every other
// request's client address is the socket's, or the one a trusted proxy gave (TRUSTED_PROXIES,
// Fastify's trustProxy in app.ts).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** the client's address: the socket's, or the one the SvelteKit server forwarded */
    clientIp: string;
  }
}

/** The secret compared in constant time. */
export function sameSecret(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== 'string' || given.length !== secret.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(secret));
}

/** A call of the SvelteKit server in this process. */
export function isInternalCall(req: FastifyRequest, internalSecret: string): boolean {
  return sameSecret(req.headers['x-chorus-internal'], internalSecret);
}

/** The onRequest hook that sets req.clientIp (the app decorates requests with it). */
export function clientIpHook(internalSecret: string) {
  return async (req: FastifyRequest) => {
    const forwarded = req.headers['x-chorus-client-ip'];
    req.clientIp = isInternalCall(req, internalSecret) && typeof forwarded === 'string' && forwarded.length <= 64 ? forwarded : req.ip;
  };
}
