// What the request log may hold: method and path, never addresses, query strings, cookies,
// authorization headers or the tokens that travel in emailed links' paths.
import type { FastifyRequest } from 'fastify';

/** Paths whose segments carry secrets (emailed tokens) are logged without them, and without the query. */
export function redactUrl(url: string): string {
  // decoded first, so that `/api/%72eceipts/<code>` is redacted like `/api/receipts/<code>`
  let path = url.replace(/[?#].*$/, '');
  try {
    path = decodeURIComponent(path);
  } catch {
    return '[undecodable path]';
  }
  return path
    .replace(/\/(confirm|confirmations|unsubscribe|my-data|packet|packets|receipts)\/(?!requests(?:[/?#]|$))[^/?#]+/g, '/$1/[token]')
    .replace(/\?.*$/, '');
}

/** Fastify's logger options at `level`; `extra` (tests) goes over them. */
export function loggerOptions(level: string, extra: object = {}) {
  return {
    level,
    redact: ['req.headers.cookie', 'req.headers.authorization'],
    serializers: {
      // no addresses, no query strings, no tokens in logs
      req: (req: FastifyRequest) => ({ method: req.method, url: redactUrl(req.url) }),
    },
    ...extra,
  };
}
